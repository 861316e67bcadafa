#pragma once
// backend::cuda: device memory from cudaMalloc, page-locked host memory from
// cudaHostAlloc or cudaHostRegister, a copy stream and a write-back stream
// beside the compute stream, and events. Compiles with a host compiler against
// the CUDA runtime; it holds no device code.
#include <cstddef>
#include <new>
#include <string>

#include <cuda_runtime_api.h>

#include <offload/backend/concept.hpp>
#include <offload/codec/cuda/decode.hpp>
#include <offload/detail/cuda_check.hpp>
#include <offload/detail/cuda_device_guard.hpp>
#include <offload/errors.hpp>

namespace offload::backend {

struct cuda_options {
    int device = 0;
    // The stream the user's kernels run on; nullptr makes the backend create one
    // with the highest priority (priorities steer kernels, not copies).
    cudaStream_t compute_stream = nullptr;
    // Write-combined pinned memory: an option only, since it gained nothing on
    // H100 and is reported to halve H2D bandwidth on GH200.
    bool write_combined = false;
};

class cuda {
public:
    using policy_kind = offload::policy_kind::backend;
    using options = cuda_options;
    using stream_type = cudaStream_t;
    using event_type = cudaEvent_t;
    static constexpr char const* name = "cuda";

    // Any failure to reach a device (no driver, no GPU) reads as "no GPU".
    static bool available() noexcept {
        int count = 0;
        bool const ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
        cudaGetLastError();
        return ok;
    }

    // Every stream, event and allocation of a backend belongs to its device;
    // the caller's current device is left as it was.
    explicit cuda(options opts = {}) : opts_(opts) {
        detail::cuda_device_guard const on_device(opts_.device);
        if (opts_.compute_stream == nullptr) {
            int least = 0, greatest = 0;
            OFFLOAD_CUDA_TRY(cudaDeviceGetStreamPriorityRange(&least, &greatest), "reading stream priorities");
            OFFLOAD_CUDA_TRY(cudaStreamCreateWithPriority(&compute_, cudaStreamNonBlocking, greatest),
                             "creating the compute stream");
            owns_compute_ = true;
        } else {
            compute_ = opts_.compute_stream;
        }
        try {
            OFFLOAD_CUDA_TRY(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking), "creating the copy stream");
            OFFLOAD_CUDA_TRY(cudaStreamCreateWithFlags(&writeback_, cudaStreamNonBlocking),
                             "creating the write-back stream");
        } catch (...) {
            destroy_streams();
            throw;
        }
    }
    cuda(cuda const&) = delete;
    cuda& operator=(cuda const&) = delete;
    ~cuda() {
        detail::cuda_device_guard const on_device(opts_.device, std::nothrow);
        destroy_streams();
    }

    stream_type compute_stream() noexcept { return compute_; }
    stream_type copy_stream() noexcept { return copy_; }
    stream_type writeback_stream() noexcept { return writeback_; }
    int device() const noexcept { return opts_.device; }
    [[nodiscard]] detail::cuda_device_guard on_device() { return detail::cuda_device_guard(opts_.device); }

    // Allocation, creation and release make the device current themselves: the
    // offloader's destructor and the recorders reach them outside an entry point.
    void* device_allocate(std::size_t bytes, std::string const& what_for) {
        detail::cuda_device_guard const on(opts_.device);
        void* p = nullptr;
        cudaError_t const status = cudaMalloc(&p, bytes);
        if (status == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            throw out_of_memory(what_for, bytes, device_free_bytes());
        }
        OFFLOAD_CUDA_TRY(status, "cudaMalloc of " + std::to_string(bytes) + " bytes for " + what_for);
        return p;
    }
    void device_deallocate(void* p, std::size_t) noexcept {
        if (p == nullptr) return;
        detail::cuda_device_guard const on(opts_.device, std::nothrow);
        OFFLOAD_CUDA_TRY_NOTHROW(cudaFree(p), "freeing device memory");
    }
    std::size_t device_free_bytes() {
        detail::cuda_device_guard const on(opts_.device);
        std::size_t free_bytes = 0, total = 0;
        OFFLOAD_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total), "reading free device memory");
        return free_bytes;
    }

    void* pinned_allocate(std::size_t bytes) {
        void* p = nullptr;
        unsigned const flags = cudaHostAllocPortable | (opts_.write_combined ? cudaHostAllocWriteCombined : 0u);
        if (cudaHostAlloc(&p, bytes, flags) != cudaSuccess) {
            cudaGetLastError();  // refused page-locking is recoverable: the caller falls back
            return nullptr;
        }
        return p;
    }
    void pinned_deallocate(void* p) noexcept {
        if (p != nullptr) OFFLOAD_CUDA_TRY_NOTHROW(cudaFreeHost(p), "freeing pinned host memory");
    }
    // Page-locking is the process's, not a device's: portable, so that every
    // device's copy engine reads it at full speed.
    host_registration host_register(void* p, std::size_t bytes, bool read_only) {
        unsigned const flags = cudaHostRegisterPortable | (read_only ? cudaHostRegisterReadOnly : 0u);
        cudaError_t const status = cudaHostRegister(p, bytes, flags);
        if (status == cudaSuccess) return host_registration::registered;
        cudaGetLastError();  // refused page-locking is recoverable: the caller falls back
        // Memory from cudaHostAlloc is refused with another error than registered memory is:
        // either way the caller looks at the pages one by one.
        if (status == cudaErrorHostMemoryAlreadyRegistered || is_page_locked(p)) return host_registration::already_page_locked;
        return host_registration::refused;
    }
    bool is_page_locked(void const* p) {
        cudaPointerAttributes attributes{};
        bool const locked = cudaPointerGetAttributes(&attributes, p) == cudaSuccess && attributes.type == cudaMemoryTypeHost;
        cudaGetLastError();
        return locked;
    }
    void host_unregister(void* p) noexcept {
        OFFLOAD_CUDA_TRY_NOTHROW(cudaHostUnregister(p), "unregistering host memory");
    }

    // Timing events cost about 1.4 us to record, others about 0.16 us: only the
    // profiler asks for timing.
    event_type event_create(bool timing) {
        detail::cuda_device_guard const on(opts_.device);
        cudaEvent_t e = nullptr;
        OFFLOAD_CUDA_TRY(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming),
                         "creating an event");
        return e;
    }
    void event_destroy(event_type e) noexcept {
        if (e == nullptr) return;
        detail::cuda_device_guard const on(opts_.device, std::nothrow);
        OFFLOAD_CUDA_TRY_NOTHROW(cudaEventDestroy(e), "destroying an event");
    }
    void record(event_type e, stream_type s) { OFFLOAD_CUDA_TRY(cudaEventRecord(e, s), "recording an event"); }
    // A profiler's events: under capture they become event-record nodes of the
    // graph, so that every replay records them (a plain record inside a
    // capture only orders the capture). The flag is invalid outside a capture.
    void record_timing(event_type e, stream_type s) {
        OFFLOAD_CUDA_TRY(cudaEventRecordWithFlags(e, s, capturing_ ? cudaEventRecordExternal : 0u),
                         "recording a timing event");
    }
    void wait(stream_type s, event_type e) {
        OFFLOAD_CUDA_TRY(cudaStreamWaitEvent(s, e, 0), "making a stream wait for an event");
    }
    void synchronize(event_type e) { OFFLOAD_CUDA_TRY(cudaEventSynchronize(e), "waiting for an event"); }
    void synchronize(stream_type s) { OFFLOAD_CUDA_TRY(cudaStreamSynchronize(s), "waiting for a stream"); }
    double elapsed_ms(event_type from, event_type to) {
        float ms = 0;
        OFFLOAD_CUDA_TRY(cudaEventElapsedTime(&ms, from, to), "reading the time between two events");
        return ms;
    }

    void copy_to_device(void* dst, void const* src, std::size_t bytes, stream_type s) {
        OFFLOAD_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s),
                         "copying " + std::to_string(bytes) + " bytes host to device");
    }
    void copy_to_host(void* dst, void const* src, std::size_t bytes, stream_type s) {
        OFFLOAD_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s),
                         "copying " + std::to_string(bytes) + " bytes device to host");
    }
    // The decode kernels live in the offload::codec_cuda library (linked by offload::cuda).
    void decode(codec::format f, tensor_info const& t, std::byte const* src, std::size_t bytes, void* dst,
                stream_type s) {
        codec::cuda::decode(f, t, src, bytes, dst, s);
    }
    void copy_on_device(void* dst, void const* src, std::size_t bytes, stream_type s) {
        OFFLOAD_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s),
                         "copying " + std::to_string(bytes) + " bytes within the device");
    }

    // Graph capture of a pass: its streams join the capture of the compute
    // stream through events; the capture is thread-local, so that other
    // threads' CUDA calls go on unaffected.
    using graph_type = cudaGraphExec_t;
    void begin_capture(stream_type s) {
        OFFLOAD_CUDA_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "beginning to capture a pass");
        capturing_ = true;
    }
    graph_type end_capture(stream_type s) {
        capturing_ = false;
        cudaGraph_t graph = nullptr;
        OFFLOAD_CUDA_TRY(cudaStreamEndCapture(s, &graph), "ending the capture of a pass");
        cudaGraphExec_t exec = nullptr;
        cudaError_t const status = cudaGraphInstantiate(&exec, graph, 0);
        OFFLOAD_CUDA_TRY_NOTHROW(cudaGraphDestroy(graph), "destroying a captured graph once instantiated");
        OFFLOAD_CUDA_TRY(status, "instantiating a captured pass");
        return exec;
    }
    // After a failure inside a capture: leaves capture mode and drops what was captured.
    void abandon_capture(stream_type s) noexcept {
        capturing_ = false;
        cudaGraph_t graph = nullptr;
        if (cudaStreamEndCapture(s, &graph) == cudaSuccess && graph != nullptr) cudaGraphDestroy(graph);
        cudaGetLastError();
    }
    void launch(graph_type g, stream_type s) { OFFLOAD_CUDA_TRY(cudaGraphLaunch(g, s), "launching a captured pass"); }
    void destroy_graph(graph_type g) noexcept {
        if (g == nullptr) return;
        detail::cuda_device_guard const on(opts_.device, std::nothrow);
        OFFLOAD_CUDA_TRY_NOTHROW(cudaGraphExecDestroy(g), "destroying a captured pass");
    }

private:
    void destroy_streams() noexcept {
        if (copy_ != nullptr) OFFLOAD_CUDA_TRY_NOTHROW(cudaStreamDestroy(copy_), "destroying the copy stream");
        if (writeback_ != nullptr)
            OFFLOAD_CUDA_TRY_NOTHROW(cudaStreamDestroy(writeback_), "destroying the write-back stream");
        if (owns_compute_ && compute_ != nullptr)
            OFFLOAD_CUDA_TRY_NOTHROW(cudaStreamDestroy(compute_), "destroying the compute stream");
        copy_ = writeback_ = compute_ = nullptr;
    }

    options opts_;
    cudaStream_t compute_ = nullptr;
    cudaStream_t copy_ = nullptr;
    cudaStream_t writeback_ = nullptr;
    bool owns_compute_ = false;
    bool capturing_ = false;
};

static_assert(backend_type<cuda>);
static_assert(capturing_backend<cuda>);

}  // namespace offload::backend
