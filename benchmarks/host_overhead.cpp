// The library's host cost per layer step: 1000 layers of 4 KiB, no compute,
// timed as CPU wall time of the pass loop (UseManualTime with steady_clock).
// Counters: us_per_layer (the loop: what the host spends to wait for,
// hand out and release a layer and issue the next copies) and
// us_per_layer_synced (the loop plus waiting for every stream: what a pass
// costs end to end when nothing else hides it).
//
// Backends: host (the simulated device: its copy thread does the copies) and,
// when a GPU is usable, cuda; profilers none and events; all layers streamed
// (K = 0, lookahead<4>) or all resident. On the GPU also a hand-written ring
// with the same CUDA calls and no library, as the floor of what any scheduler
// can cost. Names: host_overhead/<backend>/<profiler>/<streamed|resident>,
// host_overhead/raw_cuda_ring.
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <offload/backend/host.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/first_n.hpp>

#if defined(OFFLOAD_HAS_CUDA)
#include <cuda_runtime_api.h>

#include <offload/backend/cuda.hpp>
#endif

namespace {

constexpr std::size_t layer_count = 1000;
constexpr std::size_t layer_bytes = 4096;

struct tiny_model {
    tiny_model() : bytes(layer_count * layer_bytes, std::byte{1}) {
        for (std::size_t i = 0; i < layer_count; ++i)
            model.add_layer({offload::weight_buffer{bytes.data() + i * layer_bytes, layer_bytes}});
    }
    std::vector<std::byte> bytes;
    offload::model model;
};

using clock_type = std::chrono::steady_clock;

template <class Backend, class Profiler>
void overhead_case(benchmark::State& state, bool streamed) {
    try {
        tiny_model const m;
        using offloader_t =
            offload::layer_offloader<Backend, offload::residency::first_n, offload::prefetch::lookahead<4>, Profiler>;
        offloader_t off(m.model, offload::presets::manual(streamed ? 0 : layer_count));
        auto one_pass = [&] {
            for (auto layer : off.pass()) {
                void* p = layer.buffer(0);
                benchmark::DoNotOptimize(p);
            }
        };
        one_pass();  // warm-up: first-use event creation, page faults
        off.synchronize();

        double loop_s = 0, synced_s = 0;
        for (auto _ : state) {
            auto const t0 = clock_type::now();
            one_pass();
            auto const t1 = clock_type::now();
            off.synchronize();
            auto const t2 = clock_type::now();
            double const loop = std::chrono::duration<double>(t1 - t0).count();
            loop_s += loop;
            synced_s += std::chrono::duration<double>(t2 - t0).count();
            state.SetIterationTime(loop);
        }
        double const steps = static_cast<double>(state.iterations()) * layer_count;
        state.counters["us_per_layer"] = loop_s / steps * 1e6;
        state.counters["us_per_layer_synced"] = synced_s / steps * 1e6;
        state.counters["layers"] = static_cast<double>(layer_count);
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
}

#if defined(OFFLOAD_HAS_CUDA)
// The same CUDA calls as the library's ring for a streamed layer, written out
// by hand: wait(copy, freed), copy, record(ready, copy), wait(compute, ready),
// record(freed, compute), with 4 slots and disable-timing events.
void raw_ring(benchmark::State& state) {
    void* host = nullptr;
    void* dev = nullptr;
    cudaStream_t copy = nullptr, compute = nullptr;
    constexpr std::size_t slots = 4;
    cudaEvent_t ready[slots] = {}, freed[slots] = {};
    auto check = [](cudaError_t e) {
        if (e != cudaSuccess) throw std::runtime_error(cudaGetErrorString(e));
    };
    try {
        check(cudaHostAlloc(&host, layer_count * layer_bytes, cudaHostAllocDefault));
        std::memset(host, 1, layer_count * layer_bytes);
        check(cudaMalloc(&dev, slots * layer_bytes));
        check(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
        check(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
        for (std::size_t s = 0; s < slots; ++s) {
            check(cudaEventCreateWithFlags(&ready[s], cudaEventDisableTiming));
            check(cudaEventCreateWithFlags(&freed[s], cudaEventDisableTiming));
            check(cudaEventRecord(freed[s], compute));
        }
        auto issue = [&](std::size_t i) {
            std::size_t const s = i % slots;
            check(cudaStreamWaitEvent(copy, freed[s], 0));
            check(cudaMemcpyAsync(static_cast<std::byte*>(dev) + s * layer_bytes,
                                  static_cast<std::byte*>(host) + i * layer_bytes, layer_bytes,
                                  cudaMemcpyHostToDevice, copy));
            check(cudaEventRecord(ready[s], copy));
        };
        auto one_pass = [&] {
            for (std::size_t i = 0; i < slots; ++i) issue(i);
            for (std::size_t i = 0; i < layer_count; ++i) {
                std::size_t const s = i % slots;
                check(cudaStreamWaitEvent(compute, ready[s], 0));
                void* p = static_cast<std::byte*>(dev) + s * layer_bytes;
                benchmark::DoNotOptimize(p);
                check(cudaEventRecord(freed[s], compute));
                if (i + slots < layer_count) issue(i + slots);
            }
        };
        one_pass();
        check(cudaStreamSynchronize(compute));
        check(cudaStreamSynchronize(copy));
        double loop_s = 0, synced_s = 0;
        for (auto _ : state) {
            auto const t0 = clock_type::now();
            one_pass();
            auto const t1 = clock_type::now();
            check(cudaStreamSynchronize(compute));
            check(cudaStreamSynchronize(copy));
            auto const t2 = clock_type::now();
            double const loop = std::chrono::duration<double>(t1 - t0).count();
            loop_s += loop;
            synced_s += std::chrono::duration<double>(t2 - t0).count();
            state.SetIterationTime(loop);
        }
        double const steps = static_cast<double>(state.iterations()) * layer_count;
        state.counters["us_per_layer"] = loop_s / steps * 1e6;
        state.counters["us_per_layer_synced"] = synced_s / steps * 1e6;
        state.counters["layers"] = static_cast<double>(layer_count);
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
    if (compute != nullptr) cudaStreamSynchronize(compute);
    if (copy != nullptr) cudaStreamSynchronize(copy);
    for (std::size_t s = 0; s < slots; ++s) {
        if (ready[s] != nullptr) cudaEventDestroy(ready[s]);
        if (freed[s] != nullptr) cudaEventDestroy(freed[s]);
    }
    if (copy != nullptr) cudaStreamDestroy(copy);
    if (compute != nullptr) cudaStreamDestroy(compute);
    if (dev != nullptr) cudaFree(dev);
    if (host != nullptr) cudaFreeHost(host);
}
#endif

template <class Backend, class Profiler>
void add(char const* backend, bool streamed) {
    std::string const name = std::string("host_overhead/") + backend + "/" + Profiler::name + "/" +
                             (streamed ? "streamed" : "resident");
    benchmark::RegisterBenchmark(name.c_str(),
                                 [streamed](benchmark::State& st) { overhead_case<Backend, Profiler>(st, streamed); })
        ->UseManualTime()
        ->MinTime(0.2)
        ->Unit(benchmark::kMicrosecond);
}

template <class Backend>
void add_backend(char const* backend) {
    for (bool streamed : {true, false}) {
        add<Backend, offload::profile::none>(backend, streamed);
        add<Backend, offload::profile::events>(backend, streamed);
    }
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    add_backend<offload::backend::host>("host");
#if defined(OFFLOAD_HAS_CUDA)
    if (offload::backend::cuda::available()) {
        add_backend<offload::backend::cuda>("cuda");
        benchmark::RegisterBenchmark("host_overhead/raw_cuda_ring", raw_ring)
            ->UseManualTime()
            ->MinTime(0.2)
            ->Unit(benchmark::kMicrosecond);
    } else {
        std::fprintf(stderr, "%s: no usable CUDA device: host backend only\n", argv[0]);
    }
#endif
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
