#pragma once
// Pinned host-to-device bandwidth, measured in the calling process through a
// backend's own interface: one large copy from page-locked host memory on the
// copy stream, timed with the backend's events, best of a few. On
// backend::cuda that is cudaMemcpyAsync from cudaHostAlloc'd memory between
// CUDA events; on backend::host it is the host backend's copy (memcpy on its
// copy thread) between steady_clock readings. A pass's transfer floor is its
// streamed bytes over this rate (pass_floor.hpp).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <offload/backend/concept.hpp>
#include <offload/errors.hpp>

namespace offload_examples {

struct h2d_bandwidth {
    std::optional<double> GBps;  // 10^9 bytes a second; absent when it could not be measured
    std::string absent_reason;   // why GBps is absent
    std::size_t copy_bytes = 0;  // bytes of each copy
    int copies = 0;              // copies timed; GBps is the fastest
};

namespace detail {
// Runs f when the scope is left, however it is left.
template <class F>
struct on_scope_exit {
    F f;
    ~on_scope_exit() { f(); }
};
template <class F>
on_scope_exit(F) -> on_scope_exit<F>;
}  // namespace detail

// One untimed copy first (it faults in the host backend's pages and wakes the
// link), then `copies` timed ones. Nothing else should run on the device
// meanwhile: the measurement takes the link to itself.
template <offload::backend_type Backend>
h2d_bandwidth measure_h2d_bandwidth(Backend& b, std::size_t bytes, int copies) {
    h2d_bandwidth r{{}, {}, bytes, copies};
    [[maybe_unused]] auto const on_device = b.on_device();
    void* host = b.pinned_allocate(bytes);
    if (host == nullptr) {
        r.absent_reason = "page-locked host memory of " + std::to_string(bytes) + " bytes refused";
        return r;
    }
    detail::on_scope_exit const free_host{[&] { b.pinned_deallocate(host); }};
    std::memset(host, 1, bytes);  // resident before the first copy reads it
    void* device = nullptr;
    try {
        device = b.device_allocate(bytes, "measuring the host-to-device bandwidth");
    } catch (offload::out_of_memory const& e) {
        r.absent_reason = "no device memory for the copy: " + std::to_string(e.requested_bytes) + " bytes needed, " +
                          std::to_string(e.available_bytes) + " free";
        return r;
    }
    detail::on_scope_exit const free_device{[&] { b.device_deallocate(device, bytes); }};
    auto const begin = b.event_create(true);
    detail::on_scope_exit const free_begin{[&] { b.event_destroy(begin); }};
    auto const end = b.event_create(true);
    detail::on_scope_exit const free_end{[&] { b.event_destroy(end); }};
    auto const stream = b.copy_stream();
    double best_ms = std::numeric_limits<double>::infinity();
    for (int i = 0; i <= copies; ++i) {
        b.record(begin, stream);
        b.copy_to_device(device, host, bytes, stream);
        b.record(end, stream);
        b.synchronize(end);
        if (i > 0) best_ms = std::min(best_ms, b.elapsed_ms(begin, end));
    }
    if (best_ms > 0)
        r.GBps = static_cast<double>(bytes) / (best_ms * 1e6);
    else
        r.absent_reason = "the copy took no time the events could resolve";
    return r;
}

}  // namespace offload_examples
