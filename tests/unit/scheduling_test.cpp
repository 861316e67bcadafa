// The scheduler over every residency and prefetch combination, on the host
// backend whose copy thread really runs beside the compute.
#include <offload/layer_offloader.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/budget.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

#include "../common/policy_pairs.hpp"
#include "support.hpp"

namespace {

using offload::testing::counting_host;
using offload::testing::patterned_model;

constexpr std::size_t layer_count = 10;
constexpr std::size_t resident_count = 3;
constexpr std::size_t passes = 3;

template <class Combo>
class scheduling : public ::testing::Test {
protected:
    using offloader = offload::layer_offloader<counting_host, typename Combo::residency, typename Combo::prefetch,
                                               offload::profile::events>;

    patterned_model weights{layer_count};

    offload::config make_config() const {
        offload::config cfg = offload::presets::manual(resident_count);
        // For the budget policy: the staging ring plus exactly the first three layers.
        cfg.gpu_memory_budget = Combo::prefetch::slots * weights.max_footprint() + weights.footprint(0) +
                                weights.footprint(1) + weights.footprint(2);
        return cfg;
    }
    // A slow link, so that copies take long enough to race with compute if the
    // ordering were wrong.
    static offload::backend::host_options slow_link() {
        offload::backend::host_options o;
        o.link_bytes_per_second = 200e6;
        return o;
    }
};

TYPED_TEST_SUITE(scheduling, offload::testing::every_policy_pair, offload::testing::policy_pair_names);

template <class View>
bool sees_own_bytes(View const& layer, offload::model const& m) {
    std::vector<void const*> ptrs;
    for (std::size_t b = 0; b < layer.buffer_count(); ++b) ptrs.push_back(layer.buffer(b));
    return patterned_model::holds_own_bytes(layer.index(), m.layer(layer.index()), ptrs.data());
}

TYPED_TEST(scheduling, every_compute_sees_exactly_its_own_bytes_and_no_slot_is_overwritten_while_read) {
    // Compute runs on its own thread, so that the host enqueues ahead of it as
    // it does of a GPU, and only the stream-ordered events keep copies off the
    // slots that compute still reads.
    auto opts = this->slow_link();
    opts.compute = decltype(opts.compute)::worker_thread;
    typename TestFixture::offloader off(this->weights.get(), this->make_config(), opts);
    std::atomic<std::size_t> stale{0}, overwritten{0}, computed{0};
    offload::model const& m = this->weights.get();
    for (std::size_t p = 0; p < passes; ++p) {
        std::size_t expected_index = 0;
        for (auto layer : off.pass()) {
            ASSERT_EQ(layer.index(), expected_index++);
            offload::backend::host::enqueue(layer.stream(), [layer, &m, &stale, &overwritten, &computed] {
                if (!sees_own_bytes(layer, m)) ++stale;
                // Long enough for an early refill of this slot to land, were one issued.
                std::this_thread::sleep_for(std::chrono::microseconds(300));
                if (!sees_own_bytes(layer, m)) ++overwritten;
                // Poison the slot: the next layer that uses it must get fresh bytes.
                if (!layer.resident())
                    for (std::size_t b = 0; b < layer.buffer_count(); ++b)
                        std::memset(layer.buffer(b), 0xCD, layer.bytes(b));
                ++computed;
            });
        }
        ASSERT_EQ(expected_index, layer_count);
    }
    off.synchronize();
    EXPECT_EQ(computed, passes * layer_count);
    EXPECT_EQ(stale, 0u) << "a compute ran before its layer's copy had landed";
    EXPECT_EQ(overwritten, 0u) << "a slot was refilled while its compute still read it";
}

TYPED_TEST(scheduling, resident_layers_are_copied_once_and_streamed_layers_once_a_pass) {
    typename TestFixture::offloader off(this->weights.get(), this->make_config());
    std::size_t const copies_at_start = off.backend().copies_to_device;
    for (std::size_t p = 0; p < passes; ++p)
        for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();

    ASSERT_EQ(s.resident_layers.size(), resident_count);
    std::size_t resident_buffers = 0, streamed_bytes = 0;
    for (std::size_t i : s.resident_layers) resident_buffers += this->weights.get().layer(i).buffers().size();
    for (std::size_t i : s.streamed_layers) {
        auto const& l = this->weights.get().layer(i);
        // A pinned copy moves the layer in slot layout, up to the end of its last buffer.
        streamed_bytes += l.offset(l.buffers().size() - 1) + l.buffers().back().bytes;
    }
    EXPECT_EQ(copies_at_start, resident_buffers);  // placing resident layers, buffer by buffer
    // The next pass's first copies are issued by this pass's last layers.
    std::size_t const issued_ahead = TypeParam::prefetch::run_ahead ? off.staging_slots() : 0;
    EXPECT_EQ(off.backend().copies_to_device - copies_at_start, passes * s.streamed_layers.size() + issued_ahead);
    for (auto const& l : s.layers) EXPECT_EQ(l.loads, l.resident ? 0u : passes) << "layer " << l.index;

    EXPECT_EQ(s.counts.passes, passes);
    EXPECT_EQ(s.counts.aborted_passes, 0u);
    EXPECT_EQ(s.counts.layer_computes, passes * layer_count);
    EXPECT_EQ(s.counts.layer_loads, passes * s.streamed_layers.size());
    EXPECT_EQ(s.counts.bytes_host_to_device, passes * streamed_bytes);
    EXPECT_EQ(s.counts.bytes_device_to_host, 0u);
    EXPECT_EQ(s.memory.staging_bytes, off.staging_slots() * this->weights.max_footprint());
    EXPECT_EQ(off.staging_slots(), std::min(TypeParam::prefetch::slots, s.streamed_layers.size()));
}

TYPED_TEST(scheduling, an_exception_in_compute_abandons_the_pass_and_the_next_pass_is_correct) {
    typename TestFixture::offloader off(this->weights.get(), this->make_config(), this->slow_link());
    struct user_failure {};
    EXPECT_THROW(
        {
            for (auto layer : off.pass()) {
                // Poison, then fail half-way: the broken pass leaves dirty slots behind.
                if (!layer.resident()) std::memset(layer.buffer(0), 0xCD, layer.bytes(0));
                if (layer.index() == layer_count / 2) throw user_failure{};
            }
        },
        user_failure);
    for (std::size_t p = 0; p < 2; ++p)
        for (auto layer : off.pass()) ASSERT_TRUE(sees_own_bytes(layer, this->weights.get())) << layer.index();
    auto const s = off.statistics();
    EXPECT_EQ(s.counts.passes, 2u);
    EXPECT_EQ(s.counts.aborted_passes, 1u);
    ASSERT_TRUE(s.timing);
    EXPECT_EQ(s.timing->pass_wall.count, 2u);
}

}  // namespace

namespace {

TEST(caller_memory, laid_out_like_a_slot_is_copied_in_one_piece_a_layer) {
    // Two buffers per layer, the second at the slot offset of the first's
    // aligned size: the layout a caller gets by packing layers like the library.
    constexpr std::size_t layers = 6, first = 1000, second = 3000;
    std::size_t const stride = offload::align_up(first) + second;
    std::vector<std::uint8_t> block(layers * stride);
    offload::model m;
    for (std::size_t i = 0; i < layers; ++i) {
        auto* base = block.data() + i * stride;
        std::memset(base, int(i), stride);
        m.add_layer({{base, first}, {base + offload::align_up(first), second}});
    }
    for (auto mode : {offload::host_memory::register_caller, offload::host_memory::copy_to_pinned}) {
        offload::config cfg = offload::presets::manual(2);
        cfg.host_memory_mode = mode;
        offload::layer_offloader<counting_host, offload::residency::first_n, offload::prefetch::lookahead<2>,
                                 offload::profile::none>
            off(m, cfg);
        std::size_t const at_start = off.backend().copies_to_device;
        for (auto layer : off.pass())
            for (std::size_t b = 0; b < 2; ++b)
                ASSERT_EQ(static_cast<std::uint8_t const*>(layer.buffer(b))[layer.bytes(b) - 1], layer.index());
        // The streamed layers, and the next pass's first two, issued ahead.
        EXPECT_EQ(off.backend().copies_to_device - at_start, layers - 2 + 2);
        auto const s = off.statistics();
        EXPECT_TRUE(s.pin_memory_effective);
        EXPECT_EQ(s.counts.bytes_host_to_device, (layers - 2) * stride);
    }
}

}  // namespace

namespace {

// CUDA's rule: a wait is for the most recent record made before the wait
// call, and for nothing later. A read-write layer's release records "freed"
// on the write-back stream, and the copy of the next layer into that slot
// waits for it; abandoning the pass then records "freed" on the compute
// stream, which finishes long before the write-back does. That later record
// must not release the copy: if it did, the copy would overwrite the slot
// while the write-back still reads it, and the host would get the next
// layer's weights back instead of the state the compute wrote.
TEST(event_rules, abandoning_a_pass_during_a_write_back_does_not_release_the_copy_into_its_slot) {
    constexpr std::size_t words = 8 << 20;  // 32 MiB a buffer: the write-back takes milliseconds
    std::vector<std::uint32_t> state(words, 0), next(words, 0xABABABAB);
    offload::model m;
    m.add_layer({{state.data(), state.size() * 4, offload::access::read_write}});
    m.add_layer({{next.data(), next.size() * 4}});
    offload::backend::host_options opts;
    opts.compute = decltype(opts.compute)::worker_thread;
    opts.device_capacity = std::size_t{1} << 30;
    offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::lookahead<1>,
                             offload::profile::none>
        off(m, offload::presets::manual(0), opts);
    // The write-back stream is busy for a while, so that the write-back
    // starts well after the compute stream's later record of "freed".
    offload::backend::host::enqueue(off.backend().writeback_stream(),
                                    [] { std::this_thread::sleep_for(std::chrono::milliseconds(100)); });
    {
        auto pass = off.pass();
        auto it = pass.begin();
        auto const layer = *it;
        offload::backend::host::enqueue(layer.stream(), [layer] {
            auto* s = layer.buffer_as<std::uint32_t>(0);
            for (std::size_t i = 0; i < words; ++i) s[i] = static_cast<std::uint32_t>(i);
        });
        ++it;  // releases layer 0 (its write-back) and issues layer 1's copy into the same slot
    }          // abandoned before layer 1 is acquired: nothing on the compute stream waits for that copy
    off.synchronize();
    auto const* written_back = static_cast<std::uint32_t const*>(off.host_buffer(0, 0));
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < words; ++i) wrong += written_back[i] != static_cast<std::uint32_t>(i);
    EXPECT_EQ(wrong, 0u) << "words of the write-back that the next layer's copy overwrote";
}

// A pass object that outlives its pass must not abandon the next one.
TEST(pass_objects, a_finished_pass_object_does_not_abandon_the_next_pass) {
    patterned_model w(5);
    offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::lookahead<2>,
                             offload::profile::none>
        off(w.get(), offload::presets::manual(1));
    {
        std::unique_ptr<decltype(off.pass())> first(new auto(off.pass()));
        for (auto layer : *first) (void)layer;
        auto second = off.pass();
        auto it = second.begin();
        (void)*it;
        ++it;
        first.reset();  // the finished pass's object goes while the second pass runs
        for (; !(it == second.end()); ++it) (void)*it;
    }
    auto const s = off.statistics();
    EXPECT_EQ(s.counts.passes, 2u);
    EXPECT_EQ(s.counts.aborted_passes, 0u);
}

}  // namespace
