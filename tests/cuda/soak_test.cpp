// GPU soak: 1,000 passes of a small FFN stack through one offloader, checking
// that nothing grows and nothing is lost.
//
// 24 layers of 17 MB (hidden 1024, ffn 2816, bf16), the first 8 resident, 16
// streamed through lookahead<4>, profile::events, a summary every 100 passes
// (to a stream that discards it), so that statistics() runs during the soak
// too. Streamed layer 20 also holds a read-write uint32 state buffer that a
// tiny kernel increments every pass (and a read-only buffer of ones it adds).
//
// After 50 warm-up passes the test records host RSS (/proc/self/statm) and the
// device memory in use (cudaMemGetInfo: total - free); after 1,000 more passes
// both must be within 1% of those figures, and device memory is expected to be
// exactly equal. The counters must be exactly passes x the work of one pass,
// the state buffer must equal the number of passes, and the last pass's output
// must be bit-identical to the first's (every pass has the same input).
//
// An executable of its own (offload_cuda_soak, ctest labels soak and cuda): the
// presets exclude label soak; run it with `ctest -L soak`. Without a GPU it
// prints "SKIPPED: no GPU" and exits with 77, which ctest reports as skipped.
#include <offload/layer_offloader.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include <unistd.h>

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <offload/backend/cuda.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/stats.hpp>

#include "kernels.hpp"
#include "support.hpp"

namespace {

using namespace offload::cuda_testing;

ffn::dims const soak_dims{1024, 2816, 1};
constexpr std::size_t layer_count = 24;
constexpr std::size_t resident_count = 8;
constexpr std::size_t streamed_count = layer_count - resident_count;
constexpr std::size_t state_layer = 20;  // streamed: first_n keeps layers 0-7
constexpr std::size_t state_elements = 1024;
constexpr std::size_t state_bytes = state_elements * sizeof(std::uint32_t);
constexpr std::size_t warmup_passes = 50;
constexpr std::size_t soak_passes = 1000;
constexpr std::size_t sample_every = 100;
constexpr std::uint64_t input_seed = 29;

using offloader = offload::layer_offloader<offload::backend::cuda, offload::residency::first_n,
                                           offload::prefetch::lookahead<4>, offload::profile::events>;

// The FFN weights, and in the state layer two more buffers: the state (read-write) and ones to add to it.
struct soak_model {
    soak_model() : weights(soak_dims, layer_count), state(state_bytes), ones(state_bytes) {
        for (std::size_t k = 0; k < state_elements; ++k) ones.as<std::uint32_t>()[k] = 1;
    }
    offload::model model() const {
        offload::model m;
        for (std::size_t i = 0; i < layer_count; ++i) {
            std::vector<offload::weight_buffer> wb;
            for (auto const& b : weights.buffers[i]) wb.emplace_back(static_cast<void const*>(b.data()), b.bytes());
            if (i == state_layer) {
                wb.emplace_back(state.data(), state.bytes(), offload::access::read_write);
                wb.emplace_back(static_cast<void const*>(ones.data()), ones.bytes());
            }
            m.add_layer(std::move(wb));
        }
        return m;
    }
    ffn_weights weights;
    page_buffer state;  // zeros
    page_buffer ones;
};

std::size_t resident_set_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    unsigned long size = 0, resident = 0;
    int const read = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return read == 2 ? resident * page_buffer::page_size() : 0;
}

std::size_t device_bytes_in_use() {
    std::size_t free_bytes = 0, total = 0;
    OFFLOAD_TEST_CUDA(cudaMemGetInfo(&free_bytes, &total));
    return total - free_bytes;
}

// Index of the first state element that is not `expected`, or -1.
long state_mismatch(void const* state, std::uint32_t expected) {
    auto const* s = static_cast<std::uint32_t const*>(state);
    for (std::size_t k = 0; k < state_elements; ++k)
        if (s[k] != expected) return static_cast<long>(k);
    return -1;
}

// A stream that drops what is written to it: the periodic summary runs, and
// nothing accumulates.
class null_buffer : public std::streambuf {
protected:
    int_type overflow(int_type c) override { return traits_type::not_eof(c); }
    std::streamsize xsputn(char const*, std::streamsize n) override { return n; }
};

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

class cuda_soak : public cuda_test {};

TEST_F(cuda_soak, thousand_passes_leak_nothing_and_lose_nothing) {
    soak_model const sm;
    offload::model const m = sm.model();
    ffn::cuda_stack stack(soak_dims, stream_);
    null_buffer discard_buffer;
    std::ostream discard(&discard_buffer);
    offload::config cfg = offload::presets::manual(resident_count);
    cfg.summary_every = sample_every;
    cfg.summary_stream = &discard;
    offloader off(m, cfg, options());
    ASSERT_TRUE(off.statistics().pin_memory_effective);
    ASSERT_FALSE(off.is_resident(state_layer));
    ASSERT_EQ(off.statistics().streamed_layers.size(), streamed_count);

    // Work of one pass: every streamed layer moves its pinned block, from its
    // first buffer to the end of its last; the state layer writes its state back.
    std::size_t h2d_per_pass = 0;
    for (std::size_t i = 0; i < layer_count; ++i) {
        if (off.is_resident(i)) continue;
        auto const& l = m.layer(i);
        h2d_per_pass += l.offset(l.buffers().size() - 1) + l.buffers().back().bytes;
    }
    auto expect_counts = [&](offload::counters const& c, std::size_t passes) {
        EXPECT_EQ(c.passes, passes);
        EXPECT_EQ(c.aborted_passes, 0u);
        EXPECT_EQ(c.layer_computes, passes * layer_count);
        EXPECT_EQ(c.layer_loads, passes * streamed_count);
        EXPECT_EQ(c.bytes_host_to_device, passes * h2d_per_pass);
        EXPECT_EQ(c.bytes_device_to_host, passes * state_bytes);
    };

    std::vector<std::uint16_t> first_output, last_output;
    std::size_t passes_run = 0;
    auto one_pass = [&] {
        stack.set_input(input_seed);
        for (auto layer : off.pass()) {
            stack.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
            if (layer.index() == state_layer) {
                ASSERT_EQ(add_in_place(layer.buffer_as<std::uint32_t>(4), layer.buffer_as<std::uint32_t const>(5),
                                       state_elements, layer.stream()),
                          cudaSuccess);
            }
        }
        ++passes_run;
    };

    // --- warm-up -------------------------------------------------------------
    for (std::size_t p = 0; p < warmup_passes; ++p) {
        ASSERT_NO_FATAL_FAILURE(one_pass());
        if (p == 0) first_output = stack.output();
    }
    off.synchronize();
    ASSERT_TRUE(all_finite_bf16(first_output));
    expect_counts(off.statistics().counts, warmup_passes);
    EXPECT_EQ(state_mismatch(off.host_buffer(state_layer, 4), warmup_passes), -1) << "after the warm-up";
    off.reset_statistics();
    std::size_t const rss_start = resident_set_bytes();
    std::size_t const device_start = device_bytes_in_use();
    ASSERT_GT(rss_start, 0u) << "could not read /proc/self/statm";
    std::cout << "  [soak] after " << warmup_passes << " warm-up passes: host RSS " << mib(rss_start)
              << " MiB, device in use " << mib(device_start) << " MiB\n";
    RecordProperty("rss_bytes_start", std::to_string(rss_start));
    RecordProperty("device_bytes_start", std::to_string(device_start));

    // --- soak ----------------------------------------------------------------
    for (std::size_t p = 1; p <= soak_passes; ++p) {
        ASSERT_NO_FATAL_FAILURE(one_pass()) << "soak pass " << p;
        if (p % sample_every == 0)
            std::cout << "  [soak] pass " << p << ": host RSS " << mib(resident_set_bytes()) << " MiB, device in use "
                      << mib(device_bytes_in_use()) << " MiB\n";
    }
    last_output = stack.output();
    off.synchronize();

    std::size_t const rss_end = resident_set_bytes();
    std::size_t const device_end = device_bytes_in_use();
    auto const s = off.statistics();
    std::cout << "  [soak] after " << soak_passes << " more passes: host RSS " << mib(rss_end)
              << " MiB, device in use " << mib(device_end) << " MiB; median pass "
              << (s.timing ? s.timing->pass_wall.median_ms : -1.0) << " ms" << std::endl;
    RecordProperty("rss_bytes_end", std::to_string(rss_end));
    RecordProperty("device_bytes_end", std::to_string(device_end));

    // Nothing grows.
    double const rss_drift =
        (static_cast<double>(rss_end) - static_cast<double>(rss_start)) / static_cast<double>(rss_start);
    double const device_drift =
        (static_cast<double>(device_end) - static_cast<double>(device_start)) / static_cast<double>(device_start);
    EXPECT_LE(std::abs(rss_drift), 0.01) << "host RSS " << rss_start << " -> " << rss_end << " bytes";
    EXPECT_LE(std::abs(device_drift), 0.01) << "device memory " << device_start << " -> " << device_end << " bytes";
    EXPECT_EQ(device_end, device_start) << "device memory in use changed during the soak";

    // Nothing is lost.
    expect_counts(s.counts, soak_passes);
    ASSERT_TRUE(s.timing.has_value());
    EXPECT_EQ(s.timing->pass_wall.count, soak_passes);
    for (auto const& l : s.layers) EXPECT_EQ(l.loads, l.resident ? 0 : soak_passes) << "layer " << l.index;
    EXPECT_EQ(passes_run, warmup_passes + soak_passes);
    EXPECT_EQ(state_mismatch(off.host_buffer(state_layer, 4), static_cast<std::uint32_t>(passes_run)), -1)
        << "the state buffer after " << passes_run << " passes";
    EXPECT_EQ(first_difference(last_output, first_output), -1) << "the last pass computed something else";
}

}  // namespace

// No GPU: "SKIPPED: no GPU" and 77 (ctest's SKIP_RETURN_CODE for this test).
int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    if (!offload::backend::cuda::available()) {
        std::cout << "SKIPPED: no GPU\n";
        return 77;
    }
    return RUN_ALL_TESTS();
}
