// Read-write buffers on the GPU: a kernel on the layer's stream adds to a
// layer's state every pass. Streamed layers carry the state to the host and
// back each pass (host_buffer shows it); resident layers keep it on the device
// until write_back_resident() copies it to the caller's memory.
#include <offload/layer_offloader.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offload/backend/cuda.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/profile/events.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

#include "../common/policy_pairs.hpp"
#include "kernels.hpp"
#include "support.hpp"

namespace {

using namespace offload::cuda_testing;

constexpr std::size_t layer_count = 8;
constexpr std::size_t passes = 5;
constexpr std::size_t checked_after = 2;  // passes after which the streamed state is checked once on the way

std::uint32_t initial(std::size_t layer, std::size_t k) { return static_cast<std::uint32_t>(layer * 1000003 + k); }
std::uint32_t addend(std::size_t layer, std::size_t k) { return static_cast<std::uint32_t>(1 + (layer * 7 + k) % 13); }

// Layer i: 0 addend (read-only), 1 state (read-write), 2 a read-only tail, so
// that the read-write buffer sits between others. Sizes differ by layer and are
// not multiples of the 256-byte alignment.
struct state_model {
    state_model() {
        for (std::size_t i = 0; i < layer_count; ++i) {
            std::size_t const n = elements(i);
            std::vector<page_buffer> l;
            l.emplace_back(n * 4);
            l.emplace_back(n * 4);
            l.emplace_back(300 + 4 * i);
            for (std::size_t k = 0; k < n; ++k) {
                l[0].as<std::uint32_t>()[k] = addend(i, k);
                l[1].as<std::uint32_t>()[k] = initial(i, k);
            }
            buffers.push_back(std::move(l));
        }
    }
    static std::size_t elements(std::size_t layer) { return 1000 + 37 * layer; }
    offload::model model() {
        offload::model m;
        for (auto& l : buffers)
            m.add_layer({{static_cast<void const*>(l[0].data()), l[0].bytes()},
                         {l[1].data(), l[1].bytes(), offload::access::read_write},
                         {static_cast<void const*>(l[2].data()), l[2].bytes()}});
        return m;
    }
    // Index of the first element that is not initial + times * addend, or -1.
    static long mismatch(std::uint32_t const* state, std::size_t layer, std::size_t times) {
        for (std::size_t k = 0; k < elements(layer); ++k)
            if (state[k] != initial(layer, k) + times * addend(layer, k)) return static_cast<long>(k);
        return -1;
    }
    std::vector<std::vector<page_buffer>> buffers;
};

template <class Combo>
class read_write : public cuda_test {};

TYPED_TEST_SUITE(read_write, offload::testing::first_n_and_interleaved_pairs, offload::testing::policy_pair_names);

TYPED_TEST(read_write, state_survives_every_pass) {
    using offloader = offload::layer_offloader<offload::backend::cuda, typename TypeParam::residency,
                                               typename TypeParam::prefetch, offload::profile::events>;
    for (auto memory : {offload::host_memory::copy_to_pinned, offload::host_memory::register_caller})
        for (std::size_t resident : {std::size_t{0}, std::size_t{3}}) {
            SCOPED_TRACE(std::string(memory == offload::host_memory::copy_to_pinned ? "copy_to_pinned"
                                                                                     : "register_caller") +
                         ", " + std::to_string(resident) + " resident");
            state_model sm;
            offload::config cfg = offload::presets::manual(resident);
            cfg.host_memory_mode = memory;
            offloader off(sm.model(), cfg, this->options());
            ASSERT_TRUE(off.statistics().pin_memory_effective);

            std::size_t streamed = 0, streamed_state_bytes = 0;
            for (std::size_t i = 0; i < layer_count; ++i)
                if (!off.is_resident(i)) {
                    ++streamed;
                    streamed_state_bytes += state_model::elements(i) * 4;
                }
            ASSERT_EQ(streamed, layer_count - resident);

            for (std::size_t p = 1; p <= passes; ++p) {
                for (auto layer : off.pass()) {
                    std::size_t const i = layer.index();
                    ASSERT_EQ(add_in_place(layer.template buffer_as<std::uint32_t>(1),
                                           layer.template buffer_as<std::uint32_t const>(0), state_model::elements(i),
                                           layer.stream()),
                              cudaSuccess);
                }
                if (p == checked_after) {
                    off.synchronize();
                    for (std::size_t i = 0; i < layer_count; ++i) {
                        if (off.is_resident(i)) continue;
                        EXPECT_EQ(state_model::mismatch(static_cast<std::uint32_t*>(off.host_buffer(i, 1)), i, p), -1)
                            << "streamed layer " << i << " after " << p << " passes";
                    }
                }
            }
            off.synchronize();

            for (std::size_t i = 0; i < layer_count; ++i) {
                auto const* caller = sm.buffers[i][1].as<std::uint32_t>();
                if (off.is_resident(i)) {
                    // Still on the device: the caller's memory holds the initial state.
                    EXPECT_EQ(state_model::mismatch(caller, i, 0), -1) << "resident layer " << i << " before write-back";
                } else {
                    auto const* host = static_cast<std::uint32_t*>(off.host_buffer(i, 1));
                    EXPECT_EQ(state_model::mismatch(host, i, passes), -1) << "streamed layer " << i;
                    if (memory == offload::host_memory::register_caller) {
                        EXPECT_EQ(host, caller);
                    }
                }
            }
            off.write_back_resident();
            for (std::size_t i = 0; i < layer_count; ++i) {
                if (!off.is_resident(i)) continue;
                EXPECT_EQ(state_model::mismatch(sm.buffers[i][1].as<std::uint32_t>(), i, passes), -1)
                    << "resident layer " << i << " after write_back_resident()";
            }

            auto const s = off.statistics();
            EXPECT_EQ(s.counts.passes, passes);
            EXPECT_EQ(s.counts.layer_computes, passes * layer_count);
            EXPECT_EQ(s.counts.layer_loads, passes * streamed);
            EXPECT_EQ(s.counts.bytes_device_to_host, passes * streamed_state_bytes);
            ASSERT_TRUE(s.timing.has_value());
            if (streamed > 0) {
                ASSERT_TRUE(s.timing->gpu_to_cpu_release_ms.has_value());
                EXPECT_GT(*s.timing->gpu_to_cpu_release_ms, 0.0);
            }
        }
}

}  // namespace
