#pragma once
// backend::host: a simulated device on the CPU. "Device" memory is a separate,
// capacity-limited arena; the copy and write-back streams are threads that play
// the copy engines (optionally throttled to a link bandwidth), so copies really
// overlap the compute that the calling thread runs. Every timing is a
// steady_clock reading taken when a stream reaches an event.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include <offload/backend/concept.hpp>
#include <offload/codec/host_decode.hpp>
#include <offload/detail/host_stream.hpp>
#include <offload/errors.hpp>

namespace offload::backend {

struct host_options {
    // inline_on_caller: the user's compute runs in the body of the pass loop,
    // on the calling thread. worker_thread: the compute stream is a thread too,
    // and compute is enqueued on it (host::enqueue), so that the host runs
    // ahead of compute as it does of a GPU.
    detail::host_stream::kind compute = detail::host_stream::kind::inline_on_caller;
    // Bytes the simulated device holds.
    std::size_t device_capacity = std::size_t{1} << 30;
    // Simulated link speed of the copy engines in bytes per second; 0 copies at memcpy speed.
    double link_bytes_per_second = 0;
    // Makes pinned allocation and registration fail, as a system short of
    // lockable memory does, so that the fallback can be exercised.
    bool refuse_pinned_memory = false;
};

class host {
public:
    using policy_kind = offload::policy_kind::backend;
    using options = host_options;
    using stream_type = detail::host_stream*;
    using event_type = detail::host_event*;
    static constexpr char const* name = "host";

    explicit host(options opts = {}) : opts_(opts), compute_(opts.compute) {}

    // Runs fn on the stream in order with its other work (at once for an inline stream).
    static void enqueue(stream_type s, std::function<void()> fn) { s->enqueue(std::move(fn)); }
    host(host const&) = delete;
    host& operator=(host const&) = delete;

    stream_type compute_stream() noexcept { return &compute_; }
    stream_type copy_stream() noexcept { return &copy_; }
    stream_type writeback_stream() noexcept { return &writeback_; }

    void* device_allocate(std::size_t bytes, std::string const& what_for) {
        std::lock_guard lock(arena_mutex_);
        std::size_t const available = opts_.device_capacity - device_used_;
        if (bytes > available) throw out_of_memory(what_for, bytes, available);
        void* p = ::operator new(bytes, std::align_val_t{256}, std::nothrow);
        if (p == nullptr) throw out_of_memory(what_for + " (the host itself refused)", bytes, available);
        device_used_ += bytes;
        return p;
    }
    void device_deallocate(void* p, std::size_t bytes) noexcept {
        if (p == nullptr) return;
        ::operator delete(p, std::align_val_t{256});
        std::lock_guard lock(arena_mutex_);
        device_used_ -= bytes;
    }
    std::size_t device_free_bytes() {
        std::lock_guard lock(arena_mutex_);
        return opts_.device_capacity - device_used_;
    }
    std::size_t device_used_bytes() {
        std::lock_guard lock(arena_mutex_);
        return device_used_;
    }

    void* pinned_allocate(std::size_t bytes) {
        if (opts_.refuse_pinned_memory) return nullptr;
        return ::operator new(bytes, std::align_val_t{256}, std::nothrow);
    }
    void pinned_deallocate(void* p) noexcept { ::operator delete(p, std::align_val_t{256}); }
    // Registration is simulated process-wide, as the system's is: a range that
    // overlaps one registered before is refused as already page-locked.
    host_registration host_register(void* p, std::size_t bytes, bool /*read_only*/) {
        if (opts_.refuse_pinned_memory) return host_registration::refused;
        auto& r = registry();
        std::lock_guard lock(r.mutex);
        auto const begin = reinterpret_cast<std::uintptr_t>(p);
        auto next = r.ranges.lower_bound(begin + bytes);
        if (next != r.ranges.begin() && std::prev(next)->second > begin) return host_registration::already_page_locked;
        r.ranges.emplace(begin, begin + bytes);
        return host_registration::registered;
    }
    void host_unregister(void* p) noexcept {
        auto& r = registry();
        std::lock_guard lock(r.mutex);
        r.ranges.erase(reinterpret_cast<std::uintptr_t>(p));
    }
    bool is_page_locked(void const* p) {
        auto& r = registry();
        std::lock_guard lock(r.mutex);
        auto const at = reinterpret_cast<std::uintptr_t>(p);
        auto next = r.ranges.upper_bound(at);
        return next != r.ranges.begin() && std::prev(next)->second > at;
    }

    // One device: nothing to switch.
    struct no_device_switch {};
    no_device_switch on_device() noexcept { return {}; }

    event_type event_create(bool /*timing: host events always carry a timestamp*/) {
        return new detail::host_event();
    }
    void event_destroy(event_type e) noexcept { delete e; }

    void record(event_type e, stream_type s) {
        auto const generation = e->mark_recorded();
        s->enqueue([e, generation] { e->complete(generation); });
    }
    void wait(stream_type s, event_type e) {
        auto const generation = e->last_recorded();
        s->enqueue([e, generation] { e->wait_for(generation); });
    }
    void synchronize(event_type e) { e->wait_for(e->last_recorded()); }
    void synchronize(stream_type s) {
        std::string failure;
        if (!s->synchronize(failure))
            throw backend_error(__FILE__, __LINE__, "task_failed", failure, "running work enqueued on a host stream");
    }
    double elapsed_ms(event_type from, event_type to) {
        detail::host_clock::time_point a, b;
        if (!from->query(a) || !to->query(b))
            throw backend_error(__FILE__, __LINE__, "not_ready", "an event has not completed",
                                "reading the time between two events");
        return std::chrono::duration<double, std::milli>(b - a).count();
    }

    void copy_to_device(void* dst, void const* src, std::size_t bytes, stream_type s) { copy(dst, src, bytes, s); }
    void copy_to_host(void* dst, void const* src, std::size_t bytes, stream_type s) { copy(dst, src, bytes, s); }
    // The CPU reference decode, run where a GPU would run the decode kernel.
    void decode(codec::format f, tensor_info const& t, std::byte const* src, std::size_t bytes, void* dst,
                stream_type s) {
        s->enqueue([f, t, src, bytes, dst] { codec::decode_on_host(f, t, src, bytes, dst); });
    }
    void copy_on_device(void* dst, void const* src, std::size_t bytes, stream_type s) {
        s->enqueue([dst, src, bytes] { std::memcpy(dst, src, bytes); });
    }

private:
    struct registered_ranges {
        std::mutex mutex;
        std::map<std::uintptr_t, std::uintptr_t> ranges;  // begin -> end
    };
    static registered_ranges& registry() {
        static registered_ranges r;
        return r;
    }

    void copy(void* dst, void const* src, std::size_t bytes, stream_type s) {
        double const link = opts_.link_bytes_per_second;
        s->enqueue([dst, src, bytes, link] {
            auto const start = detail::host_clock::now();
            std::memcpy(dst, src, bytes);
            if (link > 0)
                std::this_thread::sleep_until(start + std::chrono::duration_cast<detail::host_clock::duration>(
                                                          std::chrono::duration<double>(bytes / link)));
        });
    }

    options opts_;
    std::mutex arena_mutex_;
    std::size_t device_used_ = 0;
    // Destroyed in reverse order: worker threads finish their queues before the arena goes.
    detail::host_stream compute_;
    detail::host_stream copy_{detail::host_stream::kind::worker_thread};
    detail::host_stream writeback_{detail::host_stream::kind::worker_thread};
};

static_assert(backend_type<host>);

}  // namespace offload::backend
