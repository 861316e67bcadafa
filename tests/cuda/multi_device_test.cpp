// Two offloaders on two devices, driven from one thread and from two: every
// stream, event and allocation belongs to its offloader's device, outputs are
// bit-identical to a single-device run, and every call leaves the caller's
// current device as it found it. Skips on a machine with fewer than two GPUs.
#include <offload/backend/cuda.hpp>

#include <array>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <offload/detail/cuda_device_guard.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/profile/events.hpp>

#include "support.hpp"

namespace {

using namespace offload::cuda_testing;
using offloader = offload::layer_offloader<offload::backend::cuda, offload::residency::first_n,
                                           offload::prefetch::lookahead<2>, offload::profile::events>;

ffn::dims const dims{256, 512, 4};
constexpr std::size_t layers = 8, resident = 2, passes = 3;

int current_device() {
    int d = -1;
    OFFLOAD_TEST_CUDA(cudaGetDevice(&d));
    return d;
}

// One device's share: a stream, the user's FFN stack and an offloader, all on
// that device. The user's own kernels need their device current, as with any
// CUDA library: compute() makes it so for the stack's calls only.
struct rank {
    rank(int device, ffn_weights const& w) : device(device) {
        offload::detail::cuda_device_guard on(device);
        OFFLOAD_TEST_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        stack = std::make_unique<ffn::cuda_stack>(dims, stream);
    }
    ~rank() {
        off.reset();
        stack.reset();
        offload::detail::cuda_device_guard on(device, std::nothrow);
        cudaStreamDestroy(stream);
    }
    void build(offload::model const& m) {
        offload::backend::cuda_options o;
        o.device = device;
        o.compute_stream = stream;
        off = std::make_unique<offloader>(m, offload::presets::manual(resident), o);
    }
    // One pass, checking after every offloader call that the caller's device did not move.
    std::vector<std::uint16_t> pass(std::uint64_t seed, int callers_device) {
        {
            offload::detail::cuda_device_guard on(device);
            stack->set_input(seed);
        }
        auto p = off->pass();
        EXPECT_EQ(current_device(), callers_device);
        for (auto it = p.begin(); !(it == p.end()); ++it) {
            auto const layer = *it;
            EXPECT_EQ(current_device(), callers_device);
            offload::detail::cuda_device_guard on(device);
            stack->layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
        }
        EXPECT_EQ(current_device(), callers_device);
        offload::detail::cuda_device_guard on(device);
        return stack->output();
    }

    int device;
    cudaStream_t stream = nullptr;
    std::unique_ptr<ffn::cuda_stack> stack;
    std::unique_ptr<offloader> off;
};

class multi_device : public ::testing::Test {
protected:
    void SetUp() override {
        int count = 0;
        if (cudaGetDeviceCount(&count) != cudaSuccess || count < 2) {
            cudaGetLastError();
            GTEST_SKIP() << "needs two CUDA devices";
        }
        OFFLOAD_TEST_CUDA(cudaSetDevice(0));
        // The single-device run: the offloader alone on device 0.
        rank alone(0, weights);
        alone.build(model);
        for (std::size_t p = 0; p < passes; ++p) expected.push_back(alone.pass(100 + p, 0));
    }
    ffn_weights weights{dims, layers};
    offload::model model = weights.model();
    std::vector<std::vector<std::uint16_t>> expected;
};

TEST_F(multi_device, interleaved_passes_from_one_thread) {
    OFFLOAD_TEST_CUDA(cudaSetDevice(0));
    std::array<std::unique_ptr<rank>, 2> ranks{std::make_unique<rank>(0, weights), std::make_unique<rank>(1, weights)};
    // Built with the caller on device 0: building the device-1 offloader leaves it there.
    for (auto& r : ranks) {
        r->build(model);
        EXPECT_EQ(current_device(), 0);
    }
    for (std::size_t p = 0; p < passes; ++p)
        for (auto& r : ranks) {
            auto const out = r->pass(100 + p, 0);
            EXPECT_EQ(first_difference(out, expected[p]), -1) << "device " << r->device << ", pass " << p;
        }
    for (auto& r : ranks) {
        auto const s = r->off->statistics();
        EXPECT_EQ(current_device(), 0);
        EXPECT_EQ(s.counts.passes, passes);
        EXPECT_EQ(s.counts.layer_loads, passes * (layers - resident));
        ASSERT_TRUE(s.timing);
        EXPECT_EQ(s.timing->pass_wall.count, passes);
        r->off->reset_statistics();
        r->off->synchronize();
        EXPECT_EQ(current_device(), 0);
    }
    ranks[1].reset();  // destroying the device-1 offloader leaves the caller on device 0 too
    EXPECT_EQ(current_device(), 0);
}

TEST_F(multi_device, passes_from_two_threads_at_once) {
    std::array<std::unique_ptr<rank>, 2> ranks;
    std::array<std::vector<std::vector<std::uint16_t>>, 2> outputs;
    std::vector<std::thread> threads;
    for (int d = 0; d < 2; ++d)
        threads.emplace_back([&, d] {
            // Each thread's current device is the other one, so every call must switch and switch back.
            int const callers = 1 - d;
            OFFLOAD_TEST_CUDA(cudaSetDevice(callers));
            ranks[d] = std::make_unique<rank>(d, weights);
            ranks[d]->build(model);
            for (std::size_t p = 0; p < passes; ++p) outputs[d].push_back(ranks[d]->pass(100 + p, callers));
            EXPECT_EQ(ranks[d]->off->statistics().counts.passes, passes);
            EXPECT_EQ(current_device(), callers);
            ranks[d].reset();
            EXPECT_EQ(current_device(), callers);
        });
    for (auto& t : threads) t.join();
    for (int d = 0; d < 2; ++d)
        for (std::size_t p = 0; p < passes; ++p)
            EXPECT_EQ(first_difference(outputs[d][p], expected[p]), -1) << "device " << d << ", pass " << p;
}

}  // namespace
