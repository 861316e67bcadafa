// Host-device copy bandwidth by size and kind of host memory: pinned
// (cudaHostAlloc), pageable (malloc) and write-combined pinned host-to-device,
// and pinned device-to-host (the direction of write-backs). Each iteration
// copies one buffer of the size enough times to move at least 64 MiB, timed
// with CUDA events on one stream (UseManualTime). Counter GBps (1e9 bytes/s).
// Names: bandwidth/<h2d|d2h>/<pinned|pageable|write_combined>/bytes:<n>.
//
// Built as C++ by the host compiler (no device code).
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include "common.hpp"

namespace {

enum class kind { pinned, pageable, write_combined };
char const* name(kind k) {
    switch (k) {
        case kind::pinned: return "pinned";
        case kind::pageable: return "pageable";
        default: return "write_combined";
    }
}

constexpr std::size_t max_bytes = std::size_t{1} << 30;
constexpr std::size_t min_moved = std::size_t{64} << 20;

// One 1 GiB host buffer of each kind and one device buffer, made on first use
// and kept until the end of the program (a fresh buffer per size would time
// page faults and pinning).
struct buffers {
    std::map<kind, void*> host;
    void* device = nullptr;
    cudaStream_t stream = nullptr;

    void* get(kind k) {
        auto it = host.find(k);
        if (it != host.end()) return it->second;
        void* p = nullptr;
        if (k == kind::pageable) {
            p = std::malloc(max_bytes);
            if (p == nullptr) throw std::bad_alloc();
        } else {
            BENCH_CUDA(cudaHostAlloc(&p, max_bytes, k == kind::pinned ? cudaHostAllocDefault : cudaHostAllocWriteCombined));
        }
        std::memset(p, 0x5a, max_bytes);  // fault every page in before timing
        host.emplace(k, p);
        return p;
    }
    void* dev() {
        if (device == nullptr) {
            BENCH_CUDA(cudaMalloc(&device, max_bytes));
            BENCH_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        }
        return device;
    }
    ~buffers() { release(); }
    void release() {
        for (auto [k, p] : host) {
            if (k == kind::pageable)
                std::free(p);
            else
                cudaFreeHost(p);
        }
        host.clear();
        if (device != nullptr) cudaFree(device);
        if (stream != nullptr) cudaStreamDestroy(stream);
        device = nullptr;
        stream = nullptr;
    }
};

std::unique_ptr<buffers>& the_buffers() {
    static std::unique_ptr<buffers> b;
    return b;
}

void copy_case(benchmark::State& state, kind k, bool to_device, std::size_t bytes) {
    try {
        auto& slot = the_buffers();
        if (!slot) slot = std::make_unique<buffers>();
        void* host = slot->get(k);
        void* dev = slot->dev();
        cudaStream_t const s = slot->stream;
        std::size_t const reps = std::max<std::size_t>(1, min_moved / bytes);
        auto copy_all = [&] {
            for (std::size_t r = 0; r < reps; ++r)
                BENCH_CUDA(to_device ? cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, s)
                                     : cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, s));
        };
        bench::event_timer t;
        t.start(s);
        copy_all();  // warm-up
        t.stop_ms(s);

        std::vector<double> gbps;
        double wall_s = 0;
        for (auto _ : state) {
            auto const h0 = std::chrono::steady_clock::now();
            t.start(s);
            copy_all();
            double const ms = t.stop_ms(s);
            wall_s += bench::seconds_since(h0);
            state.SetIterationTime(ms / 1e3);
            gbps.push_back(static_cast<double>(bytes * reps) / (ms * 1e6));
        }
        state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes * reps));
        state.counters["GBps"] = bench::median(gbps);
        state.counters["wall_GBps"] =
            wall_s > 0 ? static_cast<double>(bytes * reps) * static_cast<double>(state.iterations()) / (wall_s * 1e9) : 0;
        state.counters["bytes"] = static_cast<double>(bytes);
        state.SetLabel(std::string(to_device ? "h2d " : "d2h ") + name(k));
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
}

void register_all() {
    struct variant {
        kind k;
        bool to_device;
    };
    for (variant v : {variant{kind::pinned, true}, variant{kind::pageable, true}, variant{kind::write_combined, true},
                      variant{kind::pinned, false}})
        for (std::size_t bytes = std::size_t{64} << 10; bytes <= max_bytes; bytes *= 4) {
            std::string const n = std::string("bandwidth/") + (v.to_device ? "h2d/" : "d2h/") + name(v.k) +
                                  "/bytes:" + std::to_string(bytes);
            benchmark::RegisterBenchmark(n.c_str(), [=](benchmark::State& st) { copy_case(st, v.k, v.to_device, bytes); })
                ->UseManualTime()
                ->Iterations(v.k == kind::pageable ? 3 : 5)
                ->Unit(benchmark::kMillisecond);
        }
}

}  // namespace

void release_buffers() { the_buffers().reset(); }

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv, register_all, release_buffers); }
