// The library's host cost per layer step: 1000 layers of 4 KiB, no compute,
// timed as CPU wall time of the pass loop (UseManualTime with steady_clock).
// Counters: us_per_layer (the loop: what the host spends to wait for,
// hand out and release a layer and issue the next copies), us_per_pass (the
// same for the whole loop), us_per_layer_synced (the loop plus waiting for
// every stream: what a pass costs end to end when nothing else hides it) and
// copies_per_pass.
//
// Backends: host (the simulated device: its copy thread does the copies) and,
// when a GPU is usable, cuda; profilers none and events; all layers streamed
// (K = 0, lookahead<4>) or all resident. On the GPU also a hand-written ring
// with the same CUDA calls and no library, as the floor of what any scheduler
// can cost: like the library (prefetch across passes, on by default) its last
// layers issue the next pass's first copies, so that in both every pass's
// loop issues one copy per streamed layer (copies_per_pass says so).
// Names: host_overhead/<backend>/<profiler>/<streamed|resident>,
// host_overhead/raw_cuda_ring.
//
// On the GPU, graph_replay: the pass captured once (layer_offloader::capture)
// and the host time of one graph_pass::replay() call, us_per_pass, with
// profile::none, 1000 and 100 layers of 4 KiB, streamed or resident: one
// launch whatever the layer count. Names:
// host_overhead/cuda/none/graph_replay/<streamed|resident>/layers:<n>.
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
    explicit tiny_model(std::size_t layers = layer_count) : bytes(layers * layer_bytes, std::byte{1}) {
        for (std::size_t i = 0; i < layers; ++i)
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
        off.reset_statistics();

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
        double const passes = static_cast<double>(state.iterations());
        double const steps = passes * layer_count;
        state.counters["us_per_layer"] = loop_s / steps * 1e6;
        state.counters["us_per_pass"] = loop_s / passes * 1e6;
        state.counters["us_per_layer_synced"] = synced_s / steps * 1e6;
        // Copies that began a pass, whoever issued them (the pass before issues its first ones).
        state.counters["copies_per_pass"] = static_cast<double>(off.statistics().counts.layer_loads) / passes;
        state.counters["layers"] = static_cast<double>(layer_count);
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
}

#if defined(OFFLOAD_HAS_CUDA)
// The same CUDA calls as the library's ring for a streamed layer, written out
// by hand: wait(copy, freed), copy, record(ready, copy), wait(compute, ready),
// record(freed, compute), with 4 slots and disable-timing events. The ring is
// circular across passes as the library's is: layer i + 4 of the run (of the
// next pass, for the last 4 layers) is copied once layer i is released.
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
        std::size_t copies = 0;
        // Position g of the run: layer g % layer_count, in slot g % slots.
        auto issue = [&](std::size_t g) {
            std::size_t const s = g % slots;
            check(cudaStreamWaitEvent(copy, freed[s], 0));
            check(cudaMemcpyAsync(static_cast<std::byte*>(dev) + s * layer_bytes,
                                  static_cast<std::byte*>(host) + g % layer_count * layer_bytes, layer_bytes,
                                  cudaMemcpyHostToDevice, copy));
            check(cudaEventRecord(ready[s], copy));
            ++copies;
        };
        std::size_t position = 0;  // of the next layer computed
        for (std::size_t g = 0; g < slots; ++g) issue(g);  // the first pass's first copies, once
        auto one_pass = [&] {
            for (std::size_t i = 0; i < layer_count; ++i, ++position) {
                std::size_t const s = position % slots;
                check(cudaStreamWaitEvent(compute, ready[s], 0));
                void* p = static_cast<std::byte*>(dev) + s * layer_bytes;
                benchmark::DoNotOptimize(p);
                check(cudaEventRecord(freed[s], compute));
                issue(position + slots);
            }
        };
        one_pass();
        check(cudaStreamSynchronize(compute));
        check(cudaStreamSynchronize(copy));
        copies = 0;
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
        double const passes = static_cast<double>(state.iterations());
        double const steps = passes * layer_count;
        state.counters["us_per_layer"] = loop_s / steps * 1e6;
        state.counters["us_per_pass"] = loop_s / passes * 1e6;
        state.counters["us_per_layer_synced"] = synced_s / steps * 1e6;
        state.counters["copies_per_pass"] = static_cast<double>(copies) / passes;
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

// The host time of one graph_pass::replay() call: the pass, captured once,
// launched as one graph. Each replay is waited for before the next (timed
// apart as us_per_pass_synced), so that launches never queue up behind the
// device and the call is timed alone.
void graph_replay(benchmark::State& state, std::size_t layers, bool streamed) {
    try {
        tiny_model const m(layers);
        using offloader_t = offload::layer_offloader<offload::backend::cuda, offload::residency::first_n,
                                                     offload::prefetch::lookahead<4>, offload::profile::none>;
        offloader_t off(m.model, offload::presets::manual(streamed ? 0 : layers));
        auto graph = off.capture([](auto const& layer) {
            void* p = layer.buffer(0);
            benchmark::DoNotOptimize(p);
        });
        graph.replay();  // warm-up: the first launch uploads the graph to the device
        off.synchronize();

        double replay_s = 0, synced_s = 0;
        for (auto _ : state) {
            auto const t0 = clock_type::now();
            graph.replay();
            auto const t1 = clock_type::now();
            off.synchronize();
            auto const t2 = clock_type::now();
            double const call = std::chrono::duration<double>(t1 - t0).count();
            replay_s += call;
            synced_s += std::chrono::duration<double>(t2 - t0).count();
            state.SetIterationTime(call);
        }
        double const passes = static_cast<double>(state.iterations());
        state.counters["us_per_pass"] = replay_s / passes * 1e6;
        state.counters["us_per_pass_synced"] = synced_s / passes * 1e6;
        state.counters["copies_per_pass"] = static_cast<double>(graph.per_replay().layer_loads);
        state.counters["layers"] = static_cast<double>(layers);
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
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
        // A fixed count: a replay call takes microseconds, its pass on the
        // device up to milliseconds, so MinTime would run for minutes.
        for (std::size_t layers : {layer_count, std::size_t{100}})
            for (bool streamed : {true, false}) {
                std::string const name = std::string("host_overhead/cuda/none/graph_replay/") +
                                         (streamed ? "streamed" : "resident") + "/layers:" + std::to_string(layers);
                benchmark::RegisterBenchmark(name.c_str(),
                                             [layers, streamed](benchmark::State& st) {
                                                 graph_replay(st, layers, streamed);
                                             })
                    ->UseManualTime()
                    ->Iterations(300)
                    ->Unit(benchmark::kMicrosecond);
            }
    } else {
        std::fprintf(stderr, "%s: no usable CUDA device: host backend only\n", argv[0]);
    }
#endif
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
