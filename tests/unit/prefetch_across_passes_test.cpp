// Prefetch across passes, on the host backend: the last layers of a pass issue
// the copies of the next pass's first streamed layers; those copies count for
// the pass that uses them, never for one that does not run.
#include <offload/layer_offloader.hpp>

#include <cstddef>
#include <cstring>

#include <gtest/gtest.h>

#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/first_n.hpp>

#include "support.hpp"

namespace {

using offload::testing::counting_host;
using offload::testing::patterned_model;

constexpr std::size_t layer_count = 10;
constexpr std::size_t resident_count = 2;
constexpr std::size_t streamed_count = layer_count - resident_count;
constexpr std::size_t slot_count = 3;

using offloader = offload::layer_offloader<counting_host, offload::residency::first_n,
                                           offload::prefetch::lookahead<slot_count>, offload::profile::events>;

offload::config config(bool across) {
    offload::config cfg = offload::presets::manual(resident_count);
    cfg.prefetch_across_passes = across;
    return cfg;
}

template <class View>
bool sees_own_bytes(View const& layer, offload::model const& m) {
    std::vector<void const*> ptrs;
    for (std::size_t b = 0; b < layer.buffer_count(); ++b) ptrs.push_back(layer.buffer(b));
    return patterned_model::holds_own_bytes(layer.index(), m.layer(layer.index()), ptrs.data());
}

// Host-to-device copies issued by one pass, after the ones of construction.
std::size_t copies_of_one_pass(offloader& off, offload::model const& m) {
    std::size_t const before = off.backend().copies_to_device;
    for (auto layer : off.pass()) EXPECT_TRUE(sees_own_bytes(layer, m)) << layer.index();
    off.synchronize();
    return off.backend().copies_to_device - before;
}

TEST(prefetch_across_passes, a_pass_issues_the_next_pass_first_copies_and_the_knob_turns_it_off) {
    patterned_model const w(layer_count);
    offloader on(w.get(), config(true));
    offloader off(w.get(), config(false));
    std::size_t const with = copies_of_one_pass(on, w.get()), without = copies_of_one_pass(off, w.get());
    ASSERT_GT(without, 0u);
    EXPECT_EQ(with * streamed_count, without * (streamed_count + slot_count));
    // From then on a pass issues as many copies as it uses (the rest of its
    // own, and the next pass's first), and sees its own bytes in every slot.
    for (int p = 0; p < 3; ++p) {
        EXPECT_EQ(copies_of_one_pass(on, w.get()), without);
        EXPECT_EQ(copies_of_one_pass(off, w.get()), without);
    }
}

TEST(prefetch_across_passes, a_copy_counts_for_the_pass_that_uses_it) {
    patterned_model const w(layer_count);
    offloader off(w.get(), config(true));
    std::size_t streamed_bytes = 0;
    for (std::size_t i = resident_count; i < layer_count; ++i) streamed_bytes += w.get().layer(i).payload_bytes();

    for (std::size_t p = 1; p <= 3; ++p) {
        off.run_pass([](auto const&) {});
        auto const s = off.statistics();
        EXPECT_EQ(s.counts.layer_loads, p * streamed_count) << "after pass " << p;
        EXPECT_EQ(s.counts.logical_bytes_host_to_device, p * streamed_bytes);
        for (std::size_t i = resident_count; i < layer_count; ++i) EXPECT_EQ(s.layers[i].loads, p);
        EXPECT_EQ(s.counts.unused_prefetches, 0u);
    }
    // Copies issued before a reset belong to the pass after it, and are timed with it.
    off.reset_statistics();
    off.run_pass([](auto const&) {});
    auto const s = off.statistics();
    EXPECT_EQ(s.counts.layer_loads, streamed_count);
    for (std::size_t i = resident_count; i < layer_count; ++i) {
        EXPECT_EQ(s.layers[i].loads, 1u);
        EXPECT_TRUE(s.layers[i].transfer_ms.has_value()) << "layer " << i;
    }
    ASSERT_TRUE(s.timing);
    EXPECT_EQ(s.timing->pass_wall.count, 1u);
}

TEST(prefetch_across_passes, copies_for_a_pass_that_never_runs_are_counted_apart) {
    patterned_model const w(layer_count);
    offloader off(w.get(), config(true));
    off.run_pass([](auto const&) {});
    // The last layer fails after the copies for the next pass were issued.
    struct user_failure {};
    EXPECT_THROW(
        {
            for (auto layer : off.pass()) {
                if (!layer.resident()) std::memset(layer.buffer(0), 0xCD, layer.bytes(0));
                if (layer.index() == layer_count - 1) throw user_failure{};
            }
        },
        user_failure);
    auto s = off.statistics();
    EXPECT_EQ(s.counts.aborted_passes, 1u);
    EXPECT_EQ(s.counts.unused_prefetches, slot_count - 1);  // the failing layer's release never ran
    EXPECT_EQ(s.counts.layer_loads, 2 * streamed_count);
    // The pass after the failure copies everything again and sees its own bytes.
    for (auto layer : off.pass()) EXPECT_TRUE(sees_own_bytes(layer, w.get())) << layer.index();
    s = off.statistics();
    EXPECT_EQ(s.counts.layer_loads, 3 * streamed_count);
    EXPECT_EQ(s.counts.passes, 2u);
}

// A read-write layer first in the stream, small read-only layers after it:
// their copies refill its slot, and the next pass's copy of it is issued while
// its slow write-back may still run. No copy may overwrite the slot, or read
// the host bytes, before that write-back is done.
TEST(prefetch_across_passes, a_copy_for_the_next_pass_reads_the_bytes_written_back) {
    constexpr std::size_t layers = 6, state_elements = 1 << 19, passes = 6;
    std::vector<std::uint32_t> state(state_elements, 0), constant(64, 7);
    offload::model m;
    m.add_layer({{state.data(), state_elements * 4, offload::access::read_write}});
    for (std::size_t i = 1; i < layers; ++i) m.add_layer({{constant.data(), constant.size() * 4}});
    offload::backend::host_options slow;
    slow.link_bytes_per_second = 100e6;  // the 2 MiB write-back takes about 20 ms
    offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::lookahead<2>,
                             offload::profile::none>
        off(m, offload::presets::manual(0), slow);
    for (std::size_t p = 0; p < passes; ++p)
        for (auto layer : off.pass()) {
            if (layer.index() != 0) continue;
            auto* v = layer.buffer_as<std::uint32_t>(0);
            ASSERT_EQ(v[0], p) << "pass " << p;
            ASSERT_EQ(v[state_elements - 1], p) << "pass " << p;
            for (std::size_t k = 0; k < state_elements; ++k) ++v[k];
        }
    off.synchronize();
    EXPECT_EQ(static_cast<std::uint32_t*>(off.host_buffer(0, 0))[state_elements - 1], passes);
}

}  // namespace
