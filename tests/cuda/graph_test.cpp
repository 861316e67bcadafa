// Passes captured as CUDA graphs (layer_offloader::capture) and replayed: the
// same bits as eager passes, read-write state carried through 1,000 replays
// interleaved with eager passes, exact counters per replay, timing that agrees
// with the host's clock, and the caller's device left as it was.
#include <offload/layer_offloader.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offload/backend/cuda.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

#include "kernels.hpp"
#include "support.hpp"

namespace {

using namespace offload::cuda_testing;

ffn::dims const small_dims{256, 512, 4};
constexpr std::size_t layer_count = 12;

class graph : public cuda_test {};

template <class Offloader>
auto capture_ffn(Offloader& off, ffn::cuda_stack& stack) {
    return off.capture([&](auto const& layer) {
        stack.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
    });
}

TEST_F(graph, replays_give_the_bits_of_eager_passes) {
    ffn_weights const w(small_dims, layer_count);
    ffn::cuda_stack stack(small_dims, stream_);
    auto const reference = resident_reference(w, stack, 5);
    for (std::size_t resident : {std::size_t{0}, std::size_t{5}, layer_count}) {
        SCOPED_TRACE(std::to_string(resident) + " resident");
        offload::layer_offloader<offload::backend::cuda, offload::residency::interleaved,
                                 offload::prefetch::lookahead<3>, offload::profile::events>
            off(w.model(), offload::presets::manual(resident), options());
        EXPECT_EQ(first_difference(offloaded_pass(off, stack, 5), reference), -1);
        auto g = capture_ffn(off, stack);
        for (int round = 0; round < 3; ++round) {
            stack.set_input(5);
            g.replay();
            EXPECT_EQ(first_difference(stack.output(), reference), -1) << "replay " << round;
            // An eager pass between replays sees the slots the replay left.
            EXPECT_EQ(first_difference(offloaded_pass(off, stack, 5), reference), -1) << "eager after " << round;
        }
    }
}

// Layer i adds its addend to its read-write state: after n passes, eager or
// replayed, the host copy holds initial + n * addend.
TEST_F(graph, read_write_state_through_a_thousand_replays) {
    constexpr std::size_t layers = 10, elements = 4099, replays = 1000;
    std::vector<page_buffer> addend, state;
    offload::model m;
    for (std::size_t i = 0; i < layers; ++i) {
        addend.emplace_back(elements * 4);
        state.emplace_back(elements * 4);
        for (std::size_t k = 0; k < elements; ++k) {
            addend.back().as<std::uint32_t>()[k] = static_cast<std::uint32_t>(1 + (i * 7 + k) % 13);
            state.back().as<std::uint32_t>()[k] = static_cast<std::uint32_t>(i * 1000003 + k);
        }
        m.add_layer({{static_cast<void const*>(addend.back().data()), elements * 4},
                     {state.back().data(), elements * 4, offload::access::read_write}});
    }
    int device_before = -1;
    OFFLOAD_TEST_CUDA(cudaGetDevice(&device_before));
    offload::layer_offloader<offload::backend::cuda, offload::residency::first_n, offload::prefetch::lookahead<4>,
                             offload::profile::none>
        off(m, offload::presets::manual(2), options());
    auto add = [&](auto const& layer) {
        ASSERT_EQ(add_in_place(layer.template buffer_as<std::uint32_t>(1),
                               layer.template buffer_as<std::uint32_t const>(0), elements, layer.stream()),
                  cudaSuccess);
    };
    off.run_pass(add);
    auto g = off.capture(add);
    off.run_pass(add);
    for (std::size_t r = 0; r < replays; ++r) {
        g.replay();
        if (r % 250 == 0) off.run_pass(add);
    }
    off.synchronize();
    off.write_back_resident();
    std::size_t const passes = 2 + replays + 4;
    for (std::size_t i = 0; i < layers; ++i) {
        auto const* got = static_cast<std::uint32_t const*>(off.is_resident(i) ? state[i].data() : off.host_buffer(i, 1));
        for (std::size_t k = 0; k < elements; ++k)
            ASSERT_EQ(got[k], static_cast<std::uint32_t>(i * 1000003 + k) +
                                  passes * static_cast<std::uint32_t>(1 + (i * 7 + k) % 13))
                << "layer " << i << " element " << k;
    }
    auto const s = off.statistics();
    std::size_t const streamed = layers - 2;
    EXPECT_EQ(s.counts.passes, passes);
    EXPECT_EQ(s.counts.replayed_passes, replays);
    EXPECT_EQ(s.counts.layer_computes, passes * layers);
    EXPECT_EQ(s.counts.layer_loads, passes * streamed);
    EXPECT_EQ(s.counts.logical_bytes_host_to_device, passes * streamed * 2 * elements * 4);
    // A layer moves in one copy from the library's pinned block, the 256-byte
    // alignment of its second buffer included.
    EXPECT_EQ(s.counts.bytes_host_to_device, passes * streamed * (offload::align_up(elements * 4) + elements * 4));
    EXPECT_EQ(s.counts.bytes_device_to_host, passes * streamed * elements * 4);
    // The capture and five replays came after an eager pass, which had issued
    // copies for a next pass that a graph took over.
    EXPECT_EQ(s.counts.unused_prefetches, 6 * std::min<std::size_t>(4, streamed));
    for (std::size_t i = 2; i < layers; ++i) EXPECT_EQ(s.layers[i].loads, passes);
    int device_after = -1;
    OFFLOAD_TEST_CUDA(cudaGetDevice(&device_after));
    EXPECT_EQ(device_after, device_before);
}

// Replays are timed from events recorded inside the graph: the pass times
// add up to the host's clock around them, and every layer is timed.
TEST_F(graph, replays_are_timed) {
    ffn_weights const w(small_dims, layer_count);
    ffn::cuda_stack stack(small_dims, stream_);
    offload::layer_offloader<offload::backend::cuda, offload::residency::first_n, offload::prefetch::lookahead<4>,
                             offload::profile::events>
        off(w.model(), offload::presets::manual(4), options());
    auto g = capture_ffn(off, stack);
    off.reset_statistics();
    constexpr std::size_t replays = 200;
    OFFLOAD_TEST_CUDA(cudaStreamSynchronize(stream_));
    auto const t0 = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < replays; ++r) g.replay();
    OFFLOAD_TEST_CUDA(cudaStreamSynchronize(stream_));
    double const host_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    auto const s = off.statistics();
    ASSERT_TRUE(s.timing.has_value());
    auto const& t = *s.timing;
    EXPECT_EQ(t.pass_wall.count, replays);
    EXPECT_EQ(s.counts.replayed_passes, replays);
    // Replays run back to back: their walls cover the host's span but for the launch of the first.
    EXPECT_LE(t.pass_wall.total_ms, host_ms * 1.001);
    EXPECT_GE(t.pass_wall.total_ms, host_ms * 0.8);
    for (auto const& l : s.layers) {
        EXPECT_EQ(l.samples, replays) << "layer " << l.index;
        ASSERT_TRUE(l.compute_ms.has_value()) << "layer " << l.index;
        EXPECT_GT(*l.compute_ms, 0.0);
        EXPECT_EQ(l.transfer_ms.has_value(), !l.resident) << "layer " << l.index;
    }
}

// A capture that throws leaves the offloader as it was: no pass counted, and
// eager passes and captures work afterwards.
TEST_F(graph, a_failed_capture_leaves_the_offloader_usable) {
    ffn_weights const w(small_dims, layer_count);
    ffn::cuda_stack stack(small_dims, stream_);
    auto const reference = resident_reference(w, stack, 9);
    offload::layer_offloader<offload::backend::cuda, offload::residency::first_n, offload::prefetch::lookahead<4>,
                             offload::profile::events>
        off(w.model(), offload::presets::manual(3), options());
    EXPECT_THROW((void)off.capture([&](auto const& layer) {
        if (layer.index() == 7) throw std::runtime_error("user failure");
        stack.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
    }),
                 std::runtime_error);
    auto const s = off.statistics();
    EXPECT_EQ(s.counts.passes, 0u);
    EXPECT_EQ(s.counts.aborted_passes, 0u);
    EXPECT_EQ(s.counts.layer_loads, 0u);
    EXPECT_EQ(first_difference(offloaded_pass(off, stack, 9), reference), -1);
    auto g = capture_ffn(off, stack);
    stack.set_input(9);
    g.replay();
    EXPECT_EQ(first_difference(stack.output(), reference), -1);
}

}  // namespace
