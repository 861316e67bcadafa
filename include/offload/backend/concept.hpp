#pragma once
// What the scheduler needs from a backend: device memory, page-locked host
// memory, three in-order streams, events that order them, and copies. The host
// and CUDA backends both model it; a test backend can wrap either.
#include <concepts>
#include <cstddef>
#include <string>
#include <utility>

#include <offload/codec/concept.hpp>
#include <offload/policy_kind.hpp>
#include <offload/tensor.hpp>

namespace offload {

// What asking to page-lock caller memory gave.
enum class host_registration {
    registered,          // page-locked now; undo with host_unregister
    already_page_locked, // some of it is pinned already (cudaHostAlloc, an earlier registration): nothing was done
    refused,             // the system said no: the caller falls back to pageable memory
};

template <class B>
concept backend_type =
    detail::announces<B, policy_kind::backend> && requires(B& b, typename B::stream_type s,
                                                           typename B::event_type e, void* p,
                                                           void const* cp, std::size_t n) {
        typename B::options;
        { B::name } -> std::convertible_to<char const*>;
        { b.compute_stream() } -> std::same_as<typename B::stream_type>;
        { b.copy_stream() } -> std::same_as<typename B::stream_type>;
        { b.writeback_stream() } -> std::same_as<typename B::stream_type>;
        // Throws offload::out_of_memory, naming what the memory was for.
        { b.device_allocate(n, std::string{}) } -> std::same_as<void*>;
        { b.device_deallocate(p, n) } noexcept;
        { b.device_free_bytes() } -> std::same_as<std::size_t>;
        // nullptr (not an exception) when the system refuses: the caller falls back.
        { b.pinned_allocate(n) } -> std::same_as<void*>;
        { b.pinned_deallocate(p) } noexcept;
        // read_only: the device only reads it (a read-only file mapping can be locked no other way).
        { b.host_register(p, n, true) } -> std::same_as<host_registration>;
        { b.host_unregister(p) } noexcept;
        { b.is_page_locked(cp) } -> std::same_as<bool>;
        // Makes the backend's device current until the returned object is
        // destroyed, then restores the caller's: every entry point holds one.
        b.on_device();
        { b.event_create(true) } -> std::same_as<typename B::event_type>;
        { b.event_destroy(e) } noexcept;
        b.record(e, s);
        b.wait(s, e);
        b.synchronize(e);
        b.synchronize(s);
        { b.elapsed_ms(e, e) } -> std::same_as<double>;
        b.copy_to_device(p, cp, n, s);
        b.copy_to_host(p, cp, n, s);
        // For transfer codecs: expands encoded bytes already on the device into
        // the slot, and moves raw bytes within the device, in stream order.
        b.decode(codec::format{}, std::declval<tensor_info const&>(), static_cast<std::byte const*>(cp), n, p, s);
        b.copy_on_device(p, cp, n, s);
    };

// A backend that can record a pass as a graph and replay it (CUDA graphs).
// record_timing is the profiler's record: inside a capture it must leave a
// record in the graph, which a plain record does not.
template <class B>
concept capturing_backend = backend_type<B> && requires(B& b, typename B::stream_type s, typename B::event_type e,
                                                        typename B::graph_type g) {
    b.begin_capture(s);
    { b.end_capture(s) } -> std::same_as<typename B::graph_type>;
    { b.abandon_capture(s) } noexcept;
    b.launch(g, s);
    { b.destroy_graph(g) } noexcept;
    b.record_timing(e, s);
};

// The profiler's record on any backend.
template <class B>
void record_timing(B& b, typename B::event_type e, typename B::stream_type s) {
    if constexpr (requires { b.record_timing(e, s); })
        b.record_timing(e, s);
    else
        b.record(e, s);
}

}  // namespace offload
