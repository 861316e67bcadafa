// Host-to-device bandwidth of N GPUs copying from pinned host memory at the
// same time, one host thread per GPU: the ceiling that a tensor-parallel run
// of N offloaders (offload-ffn --gpus N) can reach, since its ranks stream
// their shards at once. Each GPU copies its own 1 GiB pinned buffer, made and
// first touched by a thread bound to the GPU's NUMA node
// (examples/common/offload_examples/tp/numa.hpp), 8 times per iteration. The
// time is the host clock from the moment every thread is ready to the end of the last GPU's
// copies, so a shared PCIe switch or a NUMA link that the GPUs contend for
// shows as a smaller aggregate.
//
// Names: multi_gpu_h2d/gpus:<N>, registered for N = 1, 2, 4, 8 up to the
// device count. Counters: aggregate_GBps (N x bytes / that time, 1e9 bytes/s),
// slowest_GBps (the slowest GPU's own rate, from CUDA events).
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <offload_examples/tp/numa.hpp>

namespace {

constexpr std::size_t buffer_bytes = std::size_t{1} << 30;
constexpr int copies_per_iteration = 8;

void check(cudaError_t s, char const* what) {
    if (s != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(s));
}

// One GPU's buffers, made once on first use by a thread bound to its node and kept to the end.
struct gpu_buffers {
    void* host = nullptr;
    void* device = nullptr;
    cudaStream_t stream = nullptr;
    cudaEvent_t begin = nullptr, end = nullptr;
};

std::map<int, gpu_buffers>& buffers() {
    static std::map<int, gpu_buffers> b;
    return b;
}

void bind_to_gpu_node(int device) {
    namespace numa = offload_examples::numa;
    if (auto const place = numa::place_of_gpu(device); place.node) numa::bind_thread_to_node(*place.node);
}

gpu_buffers make_buffers(int device) {
    gpu_buffers b;
    std::string error;
    std::thread([&] {  // a thread of its own, so that the binding stays with it
        try {
            bind_to_gpu_node(device);
            check(cudaSetDevice(device), "cudaSetDevice");
            check(cudaHostAlloc(&b.host, buffer_bytes, cudaHostAllocPortable), "cudaHostAlloc");
            std::memset(b.host, 0x5a, buffer_bytes);  // touched here: on this node
            check(cudaMalloc(&b.device, buffer_bytes), "cudaMalloc");
            check(cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking), "cudaStreamCreate");
            check(cudaEventCreate(&b.begin), "cudaEventCreate");
            check(cudaEventCreate(&b.end), "cudaEventCreate");
        } catch (std::exception const& e) {
            error = "GPU " + std::to_string(device) + ": " + e.what();
        }
    }).join();
    if (!error.empty()) throw std::runtime_error(error);
    return b;
}

void multi_gpu_h2d(benchmark::State& state, int n) {
    try {
        for (int d = 0; d < n; ++d)
            if (!buffers().count(d)) buffers().emplace(d, make_buffers(d));
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
        return;
    }
    double slowest = 0;
    for (auto _ : state) {
        std::barrier ready(n + 1);
        std::vector<float> ms(static_cast<std::size_t>(n));
        std::vector<std::string> errors(static_cast<std::size_t>(n));
        std::vector<std::thread> threads;
        for (int d = 0; d < n; ++d)
            threads.emplace_back([&, d] {
                bool arrived = false;
                try {
                    bind_to_gpu_node(d);
                    check(cudaSetDevice(d), "cudaSetDevice");
                    auto const& b = buffers().at(d);
                    arrived = true;
                    ready.arrive_and_wait();
                    check(cudaEventRecord(b.begin, b.stream), "cudaEventRecord");
                    for (int c = 0; c < copies_per_iteration; ++c)
                        check(cudaMemcpyAsync(b.device, b.host, buffer_bytes, cudaMemcpyHostToDevice, b.stream),
                              "cudaMemcpyAsync");
                    check(cudaEventRecord(b.end, b.stream), "cudaEventRecord");
                    check(cudaEventSynchronize(b.end), "cudaEventSynchronize");
                    check(cudaEventElapsedTime(&ms[d], b.begin, b.end), "cudaEventElapsedTime");
                } catch (std::exception const& e) {
                    errors[d] = "GPU " + std::to_string(d) + ": " + e.what();
                    if (!arrived) ready.arrive_and_drop();  // the others must not wait for this thread
                }
            });
        ready.arrive_and_wait();
        auto const start = std::chrono::steady_clock::now();
        for (auto& t : threads) t.join();
        if (auto const e = std::find_if(errors.begin(), errors.end(), [](auto const& x) { return !x.empty(); });
            e != errors.end()) {
            state.SkipWithError(e->c_str());
            break;
        }
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        slowest = std::max(slowest, static_cast<double>(*std::max_element(ms.begin(), ms.end())));
    }
    double const bytes = static_cast<double>(buffer_bytes) * copies_per_iteration;
    state.counters["aggregate_GBps"] =
        benchmark::Counter(bytes * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["slowest_GBps"] = bytes / 1e9 / (slowest / 1e3);
    state.counters["gpus"] = n;
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
    for (int n = 1; n <= devices && n <= 8; n *= 2)
        benchmark::RegisterBenchmark(("multi_gpu_h2d/gpus:" + std::to_string(n)).c_str(),
                                     [n](benchmark::State& s) { multi_gpu_h2d(s, n); })
            ->UseManualTime()
            ->Iterations(3)
            ->Unit(benchmark::kMillisecond);
    if (devices == 0) std::fprintf(stderr, "multi_gpu_bandwidth: no CUDA device, nothing to measure\n");
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    for (auto& [d, b] : buffers()) {
        cudaSetDevice(d);
        cudaEventDestroy(b.begin);
        cudaEventDestroy(b.end);
        cudaStreamDestroy(b.stream);
        cudaFree(b.device);
        cudaFreeHost(b.host);
    }
    return 0;
}
