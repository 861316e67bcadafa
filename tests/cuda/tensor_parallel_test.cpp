// Tensor parallelism over NCCL (examples/ffn/tensor_parallel.hpp): the output
// of N GPUs against one GPU's, each rank's counters, the caller's current
// device, and that a rank that fails stops the others instead of hanging them.
// Skips with fewer than two GPUs, or in a build without NCCL.
//
// Tolerance. One GPU rounds a layer's update once: x + act down^T is one GEMM
// with fp32 accumulation and the residual add as its beta. N GPUs round each
// rank's partial sum to bf16, the all-reduce adds N of them in bf16 (a
// rounding per step of the ring), and the residual add rounds once more:
// about N + 1 roundings of 2^-9 relative (bf16's unit roundoff) where one GPU
// has one, on each of 8 layers, carried through the later layers' RMSNorm and
// GEMMs. Independent roundings grow like a random walk, which puts the
// relative L2 of the final activations in the low 1e-3 range; the bound is 2e-2,
// several times that, so that it catches a wrong shard (a misplaced column of
// down gives errors of order 1) without flagging rounding. The measured value
// is printed with each run (docs/multi-gpu.md keeps the H200 figures).
#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include "support.hpp"
#include "tp_support.hpp"

#if defined(OFFLOAD_EXAMPLES_WITH_NCCL)
#include <offload/detail/cuda_device_guard.hpp>

#include "ffn_random.hpp"
#include "tensor_parallel.hpp"
#endif

namespace {

#if defined(OFFLOAD_EXAMPLES_WITH_NCCL)

using namespace offload::cuda_testing;
using offload::tp_testing::current_device;
using offload::tp_testing::gpu_count;

// Every buffer a multiple of 256 bytes, so that a layer's copy moves exactly its payload.
constexpr ffn::dims dims{1024, 4096, 4};
constexpr std::size_t layers = 8, resident = 2, passes = 3;
constexpr std::uint64_t seed = 11;
constexpr double tolerance = 2e-2;

ffn::tp::request request_for(int gpus) {
    ffn::tp::request q;
    q.d = dims;
    q.layers = layers;
    q.passes = passes;
    q.warmup = 1;
    q.seed = seed;
    q.policies = {"first_n", "lookahead:4", "events", "none"};
    q.cfg = offload::presets::manual(resident);
    q.gpus = gpus;
    return q;
}

double relative_l2(std::vector<std::uint16_t> const& y, std::vector<std::uint16_t> const& reference) {
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        double const r = ffn::bf16_to_float(reference[i]);
        double const d = ffn::bf16_to_float(y[i]) - r;
        diff += d * d;
        norm += r * r;
    }
    return std::sqrt(diff / norm);
}

ffn::tp::result run_with_deadline(ffn::tp::request const& q) {
    return offload::tp_testing::with_deadline([q] { return ffn::tp::run(q); });
}

using tensor_parallel = offload::tp_testing::two_gpu_test;

TEST_F(tensor_parallel, matches_one_gpu_within_the_bf16_all_reduce_tolerance) {
    std::vector<std::uint16_t> reference;
    {
        offload::detail::cuda_device_guard const on(0);
        ffn_weights const w(dims, layers, seed);
        cudaStream_t stream = nullptr;
        OFFLOAD_TEST_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        {
            ffn::cuda_stack stack(dims, stream);
            reference = resident_reference(w, stack, seed);
        }
        cudaStreamDestroy(stream);
    }
    for (int n : {2, 4}) {
        if (n > gpu_count()) continue;
        auto q = request_for(n);
        q.keep_output = true;
        auto const r = run_with_deadline(q);
        ASSERT_EQ(r.ranks.size(), static_cast<std::size_t>(n));
        for (auto const& rank : r.ranks)  // the all-reduce gives every rank the same sum
            EXPECT_EQ(first_difference(rank.output, r.ranks[0].output), -1) << n << " GPUs, rank " << rank.place.rank;
        ASSERT_TRUE(all_finite_bf16(r.ranks[0].output));
        double const e = relative_l2(r.ranks[0].output, reference);
        std::cout << "[ measured ] " << n << " GPUs: relative L2 of the final activations against one GPU " << e
                  << " (bound " << tolerance << ")\n";
        EXPECT_LT(e, tolerance) << n << " GPUs";
    }
}

TEST_F(tensor_parallel, counts_each_ranks_loads_and_bytes_exactly) {
    int const n = 2;
    auto const r = run_with_deadline(request_for(n));
    std::size_t const streamed = layers - resident;
    std::size_t const shard_bytes = 2 * (dims.hidden + 3 * dims.ffn / n * dims.hidden);
    offload::counters sum;
    for (auto const& rank : r.ranks) {
        auto const& c = rank.stats.counts;
        EXPECT_EQ(rank.shard_layer_bytes, shard_bytes);
        EXPECT_EQ(c.passes, passes) << "rank " << rank.place.rank;  // the warm-up pass is reset away
        EXPECT_EQ(c.aborted_passes, 0u);
        EXPECT_EQ(c.layer_computes, passes * layers);
        EXPECT_EQ(c.layer_loads, passes * streamed);
        EXPECT_EQ(c.bytes_host_to_device, passes * streamed * shard_bytes);
        EXPECT_EQ(c.logical_bytes_host_to_device, passes * streamed * shard_bytes);
        EXPECT_EQ(rank.stats.memory.resident_bytes, resident * shard_bytes);
        ASSERT_TRUE(rank.stats.timing);
        EXPECT_EQ(rank.stats.timing->pass_wall.count, passes);
        sum.passes += c.passes;
        sum.layer_loads += c.layer_loads;
        sum.bytes_host_to_device += c.bytes_host_to_device;
    }
    EXPECT_EQ(r.merged.counts.passes, sum.passes);
    EXPECT_EQ(r.merged.counts.layer_loads, sum.layer_loads);
    EXPECT_EQ(r.merged.counts.bytes_host_to_device, sum.bytes_host_to_device);
    ASSERT_TRUE(r.merged.timing);
}

TEST_F(tensor_parallel, leaves_the_callers_device_as_it_was) {
    int const callers = gpu_count() - 1;  // not device 0, which rank 0 uses
    OFFLOAD_TEST_CUDA(cudaSetDevice(callers));
    auto const r = ffn::tp::run(request_for(2));
    EXPECT_EQ(current_device(), callers);
    EXPECT_EQ(r.ranks.size(), 2u);
    OFFLOAD_TEST_CUDA(cudaSetDevice(0));
}

// A failing rank: run() throws one error naming it, within the deadline, and
// the devices serve a good run afterwards (the communicators were aborted).
void expect_failure_named(ffn::tp::injected_failure f, std::string const& cause) {
    auto q = request_for(2);
    q.inject = f;
    try {
        run_with_deadline(q);
        ADD_FAILURE() << "no error from a run whose rank " << f.rank << " fails";
    } catch (ffn::tp::rank_failure const& e) {
        std::string const what = e.what();
        EXPECT_EQ(e.rank, f.rank) << what;
        EXPECT_NE(what.find("rank " + std::to_string(f.rank) + " (GPU"), std::string::npos) << what;
        EXPECT_NE(what.find(cause), std::string::npos) << what;
        EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
    auto const good = run_with_deadline(request_for(2));
    EXPECT_EQ(good.merged.counts.passes, 2 * passes);
}

TEST_F(tensor_parallel, a_rank_that_throws_mid_pass_stops_the_others) {
    expect_failure_named({1, 1, ffn::tp::injected_failure::kind::exception}, "injects at pass 1, layer 4 on rank 1");
}

TEST_F(tensor_parallel, a_rank_out_of_memory_in_the_first_pass_stops_the_others) {
    expect_failure_named({0, 0, ffn::tp::injected_failure::kind::out_of_memory}, "out of device memory");
}

TEST_F(tensor_parallel, a_rank_that_fails_before_the_communicator_exists_stops_the_others) {
    expect_failure_named({1, std::nullopt, ffn::tp::injected_failure::kind::exception}, "at setup on rank 1");
}

#else

TEST(tensor_parallel, needs_nccl) { GTEST_SKIP() << "built without NCCL (configure with -DNCCL_ROOT=DIR)"; }

#endif

}  // namespace
