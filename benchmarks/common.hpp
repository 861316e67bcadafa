#pragma once
// Shared setup of the GPU benchmarks (host-compiled against the CUDA runtime):
//  - the stacks measured (Llama-3-8B-shaped 32 x 352 MB, 512 x 4.3 MB, 1024 x 1 MB),
//  - their host weights, in ONE pinned allocation built once per process and
//    shared by every offloader (layer i carries the weights of layer i % 4, so
//    that only four layers are generated, and so that the floor's compute,
//    which cycles four device copies as torch_peers.py does, is the very same
//    math as an offloaded pass),
//  - the floor of the performance model, max(streamed bytes / pinned H2D
//    bandwidth, all-resident compute time), measured in the same process, the
//    compute both eagerly and replayed as one CUDA graph,
//  - a timed sequence of passes, the way every pass benchmark measures: one
//    event window over several passes, nothing synchronised between them,
//  - one-at-a-time caches of offloaders and FFN activation stacks, so that a
//    benchmark grid reuses what it can and never holds two big ones at once.
//
// Nothing here touches CUDA before the first benchmark runs: the context is
// created lazily and torn down by bench::shutdown() at the end of main().
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <offload/backend/cuda.hpp>
#include <offload/config.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/model.hpp>

#include "ffn_cuda.hpp"

namespace bench {

inline void cuda_check(cudaError_t status, char const* call, char const* file, int line) {
    if (status == cudaSuccess) return;
    cudaGetLastError();
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call + ": " +
                             cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}
#define BENCH_CUDA(call) ::bench::cuda_check((call), #call, __FILE__, __LINE__)

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t const m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --- stacks ------------------------------------------------------------------

struct stack_shape {
    std::string name;
    std::size_t layers;
    std::size_t hidden;
    std::size_t ffn;
    ffn::dims dims(std::size_t batch) const { return {hidden, ffn, batch}; }
};
inline stack_shape llama_8b() { return {"8B", 32, 4096, 14336}; }
inline stack_shape stack_512() { return {"512x4.3MB", 512, 512, 1408}; }
// 1.03 MB a layer, 1.06 GB a pass: the 19.2 ms transfer floor of the PyTorch
// figures this library is compared with (torch_peers.py --layers 1024
// --hidden 256 --ffn 672), where per-layer host costs dominate.
inline stack_shape stack_1024() { return {"1024x1MB", 1024, 256, 672}; }

// Distinct layers generated; layer i holds the weights of layer i % distinct_layers.
inline constexpr std::size_t distinct_layers = 4;

// Every layer's buffers in one cudaHostAlloc block, each buffer 256-byte aligned.
class pinned_stack {
public:
    explicit pinned_stack(stack_shape shape, std::uint64_t seed = 1) : shape_(std::move(shape)) {
        auto const t0 = std::chrono::steady_clock::now();
        bytes_ = ffn::layer_buffer_bytes(shape_.dims(1));
        for (auto b : bytes_) {
            offsets_.push_back(stride_);
            stride_ += offload::align_up(b);
            payload_ += b;
        }
        BENCH_CUDA(cudaHostAlloc(&base_, stride_ * shape_.layers, cudaHostAllocDefault));
        try {
            fill(seed);
        } catch (...) {
            cudaFreeHost(base_);
            throw;
        }
        for (std::size_t i = 0; i < shape_.layers; ++i) {
            std::vector<offload::weight_buffer> wb;
            for (std::size_t b = 0; b < bytes_.size(); ++b) wb.emplace_back(buffer(i, b), bytes_[b]);
            model_.add_layer(std::move(wb));
        }
        setup_seconds_ = seconds_since(t0);
        std::fprintf(stderr, "bench: %s stack: %zu layers x %.1f MB in pinned host memory, built in %.2f s\n",
                     shape_.name.c_str(), shape_.layers, payload_ / 1e6, setup_seconds_);
    }
    pinned_stack(pinned_stack const&) = delete;
    pinned_stack& operator=(pinned_stack const&) = delete;
    ~pinned_stack() {
        if (base_ != nullptr) cudaFreeHost(base_);
    }

    stack_shape const& shape() const noexcept { return shape_; }
    offload::model const& model() const noexcept { return model_; }
    // The caller-side buffers, pinned already and laid out like a staging slot:
    // an offloader streams from them in place, one copy a layer.
    void* buffer(std::size_t layer, std::size_t b) const noexcept {
        return static_cast<std::byte*>(base_) + layer * stride_ + offsets_[b];
    }
    std::size_t buffer_count() const noexcept { return bytes_.size(); }
    std::size_t buffer_bytes(std::size_t b) const noexcept { return bytes_[b]; }
    std::size_t buffer_offset(std::size_t b) const noexcept { return offsets_[b]; }
    std::size_t layer_stride() const noexcept { return stride_; }
    std::size_t layer_payload_bytes() const noexcept { return payload_; }
    double setup_seconds() const noexcept { return setup_seconds_; }

private:
    void fill(std::uint64_t seed) {
        auto const d = shape_.dims(1);
        std::size_t const generated = std::min(distinct_layers, shape_.layers);
        {
            std::vector<std::thread> threads;
            for (std::size_t i = 0; i < generated; ++i)
                threads.emplace_back([this, d, seed, i] {
                    std::uint16_t* const out[4] = {static_cast<std::uint16_t*>(buffer(i, 0)),
                                                   static_cast<std::uint16_t*>(buffer(i, 1)),
                                                   static_cast<std::uint16_t*>(buffer(i, 2)),
                                                   static_cast<std::uint16_t*>(buffer(i, 3))};
                    ffn::fill_layer_weights(d, seed, i, out);
                });
            for (auto& t : threads) t.join();
        }
        for (std::size_t i = 0; i < generated; ++i)
            for (std::size_t b = 0; b < bytes_.size(); ++b) {
                auto const* v = static_cast<std::uint16_t const*>(buffer(i, b));
                for (std::size_t k = 0; k < bytes_[b] / 2; ++k)
                    if ((v[k] & 0x7F80u) == 0x7F80u)
                        throw std::runtime_error("bench: generated weights hold a NaN or Inf (layer " +
                                                 std::to_string(i) + ", buffer " + std::to_string(b) + ")");
            }
        // Replicate, many threads at once (a single memcpy thread moves ~10 GB/s).
        unsigned const workers = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
        std::vector<std::thread> threads;
        for (unsigned w = 0; w < workers; ++w)
            threads.emplace_back([this, generated, w, workers] {
                for (std::size_t i = generated + w; i < shape_.layers; i += workers)
                    std::memcpy(static_cast<std::byte*>(base_) + i * stride_,
                                static_cast<std::byte*>(base_) + (i % generated) * stride_, stride_);
            });
        for (auto& t : threads) t.join();
    }

    stack_shape shape_;
    std::vector<std::size_t> bytes_, offsets_;
    std::size_t stride_ = 0;
    std::size_t payload_ = 0;
    void* base_ = nullptr;
    offload::model model_;
    double setup_seconds_ = 0;
};

// --- timing --------------------------------------------------------------------

class event_timer {
public:
    event_timer() {
        BENCH_CUDA(cudaEventCreate(&start_));
        BENCH_CUDA(cudaEventCreate(&stop_));
    }
    event_timer(event_timer const&) = delete;
    event_timer& operator=(event_timer const&) = delete;
    ~event_timer() {
        cudaEventDestroy(start_);
        cudaEventDestroy(stop_);
    }
    void start(cudaStream_t s) { BENCH_CUDA(cudaEventRecord(start_, s)); }
    // Records the stop event, waits for it, returns the milliseconds between the two.
    double stop_ms(cudaStream_t s) {
        BENCH_CUDA(cudaEventRecord(stop_, s));
        BENCH_CUDA(cudaEventSynchronize(stop_));
        float ms = 0;
        BENCH_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
        return ms;
    }

private:
    cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// What enqueue() puts on a stream, captured once and instantiated as a CUDA
// graph; launch() replays all of it with one call.
class graph_exec {
public:
    template <class Enqueue>
    graph_exec(cudaStream_t s, Enqueue&& enqueue) {
        // Thread-local: work other threads enqueue meanwhile is not captured.
        BENCH_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
        cudaGraph_t graph = nullptr;
        try {
            enqueue();
        } catch (...) {
            // Leaves capture mode, so that the stream is usable again; what was captured is dropped.
            if (cudaStreamEndCapture(s, &graph) == cudaSuccess && graph != nullptr) cudaGraphDestroy(graph);
            cudaGetLastError();
            throw;
        }
        BENCH_CUDA(cudaStreamEndCapture(s, &graph));
        cudaError_t const instantiated = cudaGraphInstantiate(&exec_, graph, 0);
        cudaError_t const destroyed = cudaGraphDestroy(graph);  // the instance does not need it
        if (instantiated == cudaSuccess && destroyed != cudaSuccess) cudaGraphExecDestroy(exec_);
        BENCH_CUDA(instantiated);
        BENCH_CUDA(destroyed);
    }
    graph_exec(graph_exec const&) = delete;
    graph_exec& operator=(graph_exec const&) = delete;
    ~graph_exec() { cudaGraphExecDestroy(exec_); }
    void launch(cudaStream_t s) { BENCH_CUDA(cudaGraphLaunch(exec_, s)); }

private:
    cudaGraphExec_t exec_ = nullptr;
};

inline std::uint64_t fnv1a(std::vector<std::uint16_t> const& v) {
    std::uint64_t h = 1469598103934665603ull;
    for (auto x : v) {
        h = (h ^ (x & 0xFF)) * 1099511628211ull;
        h = (h ^ (x >> 8)) * 1099511628211ull;
    }
    return h;
}
inline std::size_t count_nonfinite(std::vector<std::uint16_t> const& v) {
    return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](std::uint16_t x) { return (x & 0x7F80u) == 0x7F80u; }));
}

// The all-resident compute of a stack at one batch size.
struct compute_floor {
    double ms = 0;                   // median pass time over all layers
    std::uint64_t output_hash = 0;   // of x after one pass from input seed input_seed
    std::size_t nonfinite = 0;       // NaN/Inf values in that output
};
inline constexpr std::uint64_t input_seed = 17;

struct floor_terms {
    double transfer_ms = 0;  // streamed bytes / pinned H2D bandwidth
    double compute_ms = 0;   // all-resident compute
    double floor_ms = 0;     // the larger of the two
    std::size_t streamed_bytes = 0;
};

// --- the process-wide context --------------------------------------------------

class context {
public:
    context() {
        int least = 0, greatest = 0;
        BENCH_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
        BENCH_CUDA(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, greatest));
        cudaDeviceProp prop{};
        BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
        device_name_ = prop.name;
    }
    context(context const&) = delete;
    context& operator=(context const&) = delete;
    ~context() {
        drop_stack();
        if (stream_ != nullptr) cudaStreamDestroy(stream_);
    }

    // The compute stream every offloader and FFN stack of the process uses.
    cudaStream_t stream() const noexcept { return stream_; }
    offload::backend::cuda_options backend_options() const {
        offload::backend::cuda_options o;
        o.compute_stream = stream_;
        return o;
    }
    std::string const& device_name() const noexcept { return device_name_; }

    // Pinned host-to-device bandwidth in GB/s: a 1 GiB copy, median of 7.
    double h2d_pinned_gbps() {
        if (h2d_gbps_ > 0) return h2d_gbps_;
        std::size_t const n = std::size_t{1} << 30;
        void* host = nullptr;
        void* dev = nullptr;
        BENCH_CUDA(cudaHostAlloc(&host, n, cudaHostAllocDefault));
        try {
            std::memset(host, 0x3c, n);
            // The link to itself: an offloader's copies issued for its next pass may still be running.
            BENCH_CUDA(cudaDeviceSynchronize());
            BENCH_CUDA(cudaMalloc(&dev, n));
            event_timer t;
            std::vector<double> ms;
            for (int r = 0; r < 8; ++r) {
                t.start(stream_);
                BENCH_CUDA(cudaMemcpyAsync(dev, host, n, cudaMemcpyHostToDevice, stream_));
                double const m = t.stop_ms(stream_);
                if (r > 0) ms.push_back(m);
            }
            h2d_gbps_ = static_cast<double>(n) / (median(ms) * 1e6);
        } catch (...) {
            if (dev != nullptr) cudaFree(dev);
            cudaFreeHost(host);
            throw;
        }
        cudaFree(dev);
        cudaFreeHost(host);
        std::fprintf(stderr, "bench: pinned H2D %.2f GB/s (1 GiB, median of 7) on %s\n", h2d_gbps_,
                     device_name_.c_str());
        return h2d_gbps_;
    }

    // The host weights of a stack; building another stack's frees this one first
    // (and everything built over it).
    pinned_stack& stack(stack_shape const& shape) {
        if (stack_ && stack_->shape().name == shape.name) return *stack_;
        drop_stack();
        stack_ = std::make_unique<pinned_stack>(shape);
        return *stack_;
    }

    // The activations and cuBLAS handle of the current stack at one batch size.
    ffn::cuda_stack& ffn_stack(std::size_t batch) {
        auto& s = ffn_stacks_[batch];
        if (!s) s = std::make_unique<ffn::cuda_stack>(current().shape().dims(batch), stream_);
        return *s;
    }

    // All layers' compute with weights resident, cycling four device copies of
    // the layers (torch_peers.py's method); median of 5 after a warm-up.
    compute_floor const& compute(std::size_t batch) {
        if (auto it = compute_.find(batch); it != compute_.end()) return it->second;
        auto& fs = ffn_stack(batch);
        compute_floor const f = measure_compute(fs, [&] { enqueue_all_resident(fs); });
        std::fprintf(stderr, "bench: %s all-resident compute at batch %zu: %.3f ms%s\n", current().shape().name.c_str(),
                     batch, f.ms, f.nonfinite ? " (NON-FINITE OUTPUT)" : "");
        return compute_.emplace(batch, f).first->second;
    }

    // The same all-resident pass captured once as a CUDA graph and replayed
    // (torch_peers.py's compute_graph): the floor of a replayed pass, which
    // pays no host launch per kernel. Median of 5 replays after a warm-up; the
    // graph is destroyed once timed.
    compute_floor const& compute_graph(std::size_t batch) {
        if (auto it = compute_graph_.find(batch); it != compute_graph_.end()) return it->second;
        auto& fs = ffn_stack(batch);
        ensure_device_copies();  // before the capture: a capture must not allocate
        graph_exec g(stream_, [&] { enqueue_all_resident(fs); });
        compute_floor const f = measure_compute(fs, [&] { g.launch(stream_); });
        bool const same = f.output_hash == compute(batch).output_hash;
        std::fprintf(stderr, "bench: %s all-resident compute at batch %zu, replayed as a CUDA graph: %.3f ms%s\n",
                     current().shape().name.c_str(), batch, f.ms,
                     same ? "" : " (OUTPUT DIFFERS FROM THE EAGER PASS)");
        return compute_graph_.emplace(batch, f).first->second;
    }

    floor_terms floor(std::size_t resident, std::size_t batch) {
        auto& st = current();
        floor_terms f;
        std::size_t const streamed_layers = st.shape().layers - std::min(resident, st.shape().layers);
        f.streamed_bytes = streamed_layers * st.layer_payload_bytes();
        f.transfer_ms = static_cast<double>(f.streamed_bytes) / (h2d_pinned_gbps() * 1e6);
        f.compute_ms = compute(batch).ms;
        f.floor_ms = std::max(f.transfer_ms, f.compute_ms);
        return f;
    }

    // Offloaders, held by key. Asking for a key of another group destroys every
    // held offloader first, so that device and pinned memory are returned
    // before the next one is built.
    template <class Offloader>
    Offloader& offloader(std::string const& group, std::string const& key,
                         std::function<std::shared_ptr<Offloader>()> const& make) {
        if (group != group_) {
            offloaders_.clear();
            group_ = group;
        }
        auto it = offloaders_.find(key);
        if (it == offloaders_.end()) {
            auto const t0 = std::chrono::steady_clock::now();
            it = offloaders_.emplace(key, std::shared_ptr<void>(make())).first;
            std::fprintf(stderr, "bench: offloader %s built in %.2f s\n", key.c_str(), seconds_since(t0));
        }
        return *static_cast<Offloader*>(it->second.get());
    }
    void drop_offloaders() {
        offloaders_.clear();
        group_.clear();
    }

private:
    pinned_stack& current() {
        if (!stack_) throw std::logic_error("bench: no stack built yet");
        return *stack_;
    }
    // One all-resident pass on the stack's stream, layer i from device copy i % 4.
    void enqueue_all_resident(ffn::cuda_stack& fs) {
        auto& st = current();
        ensure_device_copies();
        for (std::size_t i = 0; i < st.shape().layers; ++i) {
            auto* base = static_cast<std::byte*>(device_copies_[i % distinct_layers]);
            fs.layer(base + st.buffer_offset(0), base + st.buffer_offset(1), base + st.buffer_offset(2),
                     base + st.buffer_offset(3));
        }
    }
    // One untimed pass (its output hashed and checked), then five timed from the fixed input.
    template <class Pass>
    compute_floor measure_compute(ffn::cuda_stack& fs, Pass&& pass) {
        // Alone on the device: an offloader's copies issued for its next pass may still be running.
        BENCH_CUDA(cudaDeviceSynchronize());
        compute_floor f;
        fs.set_input(input_seed);
        pass();
        auto const out = fs.output();
        f.output_hash = fnv1a(out);
        f.nonfinite = count_nonfinite(out);
        event_timer t;
        std::vector<double> ms;
        for (int r = 0; r < 5; ++r) {
            fs.set_input(input_seed);
            t.start(stream_);
            pass();
            ms.push_back(t.stop_ms(stream_));
        }
        f.ms = median(ms);
        return f;
    }
    void ensure_device_copies() {
        if (!device_copies_.empty()) return;
        auto& st = current();
        for (std::size_t k = 0; k < distinct_layers; ++k) {
            void* p = nullptr;
            BENCH_CUDA(cudaMalloc(&p, st.layer_stride()));
            device_copies_.push_back(p);
            BENCH_CUDA(cudaMemcpy(p, st.buffer(k % st.shape().layers, 0), st.layer_stride(), cudaMemcpyHostToDevice));
        }
    }
    void drop_stack() {
        if (stream_ != nullptr) cudaStreamSynchronize(stream_);
        drop_offloaders();
        ffn_stacks_.clear();
        compute_.clear();
        compute_graph_.clear();
        for (void* p : device_copies_) cudaFree(p);
        device_copies_.clear();
        stack_.reset();
    }

    cudaStream_t stream_ = nullptr;
    std::string device_name_;
    double h2d_gbps_ = 0;
    std::unique_ptr<pinned_stack> stack_;
    std::map<std::size_t, std::unique_ptr<ffn::cuda_stack>> ffn_stacks_;
    std::map<std::size_t, compute_floor> compute_;
    std::map<std::size_t, compute_floor> compute_graph_;
    std::vector<void*> device_copies_;
    std::string group_;
    std::map<std::string, std::shared_ptr<void>> offloaders_;
};

inline std::unique_ptr<context>& context_slot() {
    static std::unique_ptr<context> c;
    return c;
}
// The context, created by the first benchmark that asks for it.
inline context& ctx() {
    auto& c = context_slot();
    if (!c) c = std::make_unique<context>();
    return *c;
}
// Frees every CUDA resource before main() returns (static destructors would run
// after the CUDA runtime may have been torn down).
inline void shutdown() { context_slot().reset(); }

// One pass of the FFN stack through an offloader.
template <class Offloader>
void ffn_pass(Offloader& off, ffn::cuda_stack& fs) {
    for (auto layer : off.pass()) fs.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
}

// How the host drives a sequence of passes.
enum class pass_mode {
    b2b,   // back to back: each pass is enqueued as soon as the last one is; the host never waits
    loop,  // after each pass the host copies one output value back and waits for it, as a sampler reads its token
};
inline char const* name(pass_mode m) { return m == pass_mode::b2b ? "b2b" : "loop"; }

// Copies one element of the stack's output to the host on its stream and waits for it.
inline void read_one_value(ffn::cuda_stack& fs) {
    std::uint16_t value = 0;
    BENCH_CUDA(cudaMemcpyAsync(&value, fs.activations(), sizeof value, cudaMemcpyDeviceToHost, fs.stream()));
    BENCH_CUDA(cudaStreamSynchronize(fs.stream()));
    benchmark::DoNotOptimize(value);
}

// `passes` passes of one_pass, each from the fixed input, timed as one window
// of events on the FFN's (the offloaders' compute) stream, from before the
// first pass's input to the end of the last pass; returns the window over
// `passes`, and appends the host time of each one_pass() call (microseconds)
// to host_us. Nothing waits for the offloader in or around the window: with
// prefetch across passes a pass issues the next one's first copies, and
// waiting for them (off.synchronize()) after each pass would take them out
// of the time measured. Copies issued by the pass before the window run
// partly before it, those the last pass issues after it: in a steady run the
// two match, and the window over several passes makes what remains small.
template <class OnePass>
double timed_sequence(ffn::cuda_stack& fs, event_timer& t, pass_mode mode, int passes, OnePass&& one_pass,
                      std::vector<double>& host_us) {
    t.start(fs.stream());
    for (int p = 0; p < passes; ++p) {
        fs.set_input(input_seed);
        auto const h0 = std::chrono::steady_clock::now();
        one_pass();
        host_us.push_back(seconds_since(h0) * 1e6);
        if (mode == pass_mode::loop) read_one_value(fs);
    }
    return t.stop_ms(fs.stream()) / passes;
}

// Where an offloader's streamed bytes come from.
enum class host_source {
    shared_pinned,   // the process's pinned stack, streamed in place (register_caller finds it page-locked already)
    library_pinned,  // the library's own pinned copies (copy_to_pinned: one more copy of the weights)
};
inline char const* name(host_source s) { return s == host_source::shared_pinned ? "shared_pinned" : "library_pinned"; }

inline offload::config make_config(std::size_t resident, host_source src) {
    offload::config c = offload::presets::manual(resident);
    c.host_memory_mode = src == host_source::library_pinned ? offload::host_memory::copy_to_pinned
                                                             : offload::host_memory::register_caller;
    return c;
}

// False, with a message, unless a GPU is usable (these programs measure nothing
// without one); otherwise names the GPU in the benchmark context. Call it in
// main() before RunSpecifiedBenchmarks, which prints the context first.
inline bool require_gpu(char const* program) {
    if (!offload::backend::cuda::available()) {
        std::fprintf(stderr, "%s: no usable CUDA device; nothing to measure\n", program);
        return false;
    }
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
        benchmark::AddCustomContext("gpu", prop.name);
        benchmark::AddCustomContext("gpu_pci_bus", std::to_string(prop.pciBusID));
    }
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    benchmark::AddCustomContext("cuda_driver", std::to_string(driver));
    benchmark::AddCustomContext("cuda_runtime", std::to_string(runtime));
    cudaGetLastError();
    return true;
}

// The main() of each GPU benchmark program: no GPU, nothing to measure (exit
// 2); release runs before the CUDA resources go.
inline int run_benchmarks(int argc, char** argv, void (*register_all)(), void (*release)() = nullptr) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    if (!require_gpu(argv[0])) return 2;
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    if (release != nullptr) release();
    shutdown();
    benchmark::Shutdown();
    return 0;
}

}  // namespace bench
