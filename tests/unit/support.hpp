#pragma once
// Test support: a host backend that counts the calls the scheduler and the
// profiler make, and a model whose every byte says which layer and buffer it
// belongs to, so that a compute can check it sees exactly its own weights.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <offload/backend/host.hpp>
#include <offload/model.hpp>

namespace offload::testing {

struct counting_host : backend::host {
    using backend::host::host;

    event_type event_create(bool timing) {
        ++(timing ? timing_events_created : plain_events_created);
        return host::event_create(timing);
    }
    void record(event_type e, stream_type s) {
        ++records;
        host::record(e, s);
    }
    double elapsed_ms(event_type a, event_type b) {
        ++elapsed_reads;
        return host::elapsed_ms(a, b);
    }
    void copy_to_device(void* dst, void const* src, std::size_t bytes, stream_type s) {
        ++copies_to_device;
        bytes_to_device += bytes;
        host::copy_to_device(dst, src, bytes, s);
    }

    std::atomic<std::size_t> timing_events_created{0};
    std::atomic<std::size_t> plain_events_created{0};
    std::atomic<std::size_t> records{0};
    std::atomic<std::size_t> elapsed_reads{0};
    std::atomic<std::size_t> copies_to_device{0};
    std::atomic<std::size_t> bytes_to_device{0};
};

// Times every copy on the stream that runs it, beside (and independently of)
// whatever the profiler records, so that a test can check the profiler's figures.
struct copy_timing_host : backend::host {
    using backend::host::host;

    void copy_to_device(void* dst, void const* src, std::size_t bytes, stream_type s) {
        timed(s, copy_ms, [&] { host::copy_to_device(dst, src, bytes, s); });
    }
    void copy_to_host(void* dst, void const* src, std::size_t bytes, stream_type s) {
        timed(s, copy_back_ms, [&] { host::copy_to_host(dst, src, bytes, s); });
    }
    double total_copy_ms() { return total(copy_ms); }
    double total_copy_back_ms() { return total(copy_back_ms); }

    std::mutex mutex;
    std::vector<double> copy_ms, copy_back_ms;

private:
    template <class Enqueue>
    void timed(stream_type s, std::vector<double>& into, Enqueue&& enqueue_copy) {
        auto start = std::make_shared<detail::host_clock::time_point>();
        enqueue(s, [start] { *start = detail::host_clock::now(); });
        enqueue_copy();
        enqueue(s, [this, start, &into] {
            std::lock_guard lock(mutex);
            into.push_back(std::chrono::duration<double, std::milli>(detail::host_clock::now() - *start).count());
        });
    }
    double total(std::vector<double> const& v) {
        std::lock_guard lock(mutex);
        double t = 0;
        for (double x : v) t += x;
        return t;
    }
};

inline std::uint8_t pattern_byte(std::size_t layer, std::size_t buffer, std::size_t i) {
    return static_cast<std::uint8_t>((layer * 131 + buffer * 31 + i * 7 + (i >> 8)) & 0xff);
}

// Layers of different sizes (and sizes that are not multiples of the
// alignment), so that slots hold layers smaller than themselves.
class patterned_model {
public:
    explicit patterned_model(std::size_t layers, std::size_t buffers_per_layer = 3, std::size_t base_bytes = 4096) {
        storage_.resize(layers);
        for (std::size_t l = 0; l < layers; ++l) {
            std::vector<weight_buffer> buffers;
            for (std::size_t b = 0; b < buffers_per_layer; ++b) {
                std::size_t const bytes = base_bytes + 97 * ((l * 5 + b * 3) % 11);
                auto& v = storage_[l].emplace_back(bytes);
                for (std::size_t i = 0; i < bytes; ++i) v[i] = pattern_byte(l, b, i);
                buffers.emplace_back(v.data(), v.size());
            }
            model_.add_layer(std::move(buffers));
        }
    }
    offload::model const& get() const noexcept { return model_; }
    std::size_t footprint(std::size_t l) const { return model_.layer(l).footprint(); }
    std::size_t max_footprint() const {
        std::size_t m = 0;
        for (auto const& l : model_.layers()) m = std::max(m, l.footprint());
        return m;
    }
    // True when the device bytes of a layer's buffers are exactly the pattern.
    static bool holds_own_bytes(std::size_t layer, layer_description const& d, void const* const* buffers) {
        for (std::size_t b = 0; b < d.buffers().size(); ++b) {
            auto const* p = static_cast<std::uint8_t const*>(buffers[b]);
            for (std::size_t i = 0; i < d.buffers()[b].bytes; ++i)
                if (p[i] != pattern_byte(layer, b, i)) return false;
        }
        return true;
    }

private:
    std::vector<std::vector<std::vector<std::uint8_t>>> storage_;
    offload::model model_;
};

}  // namespace offload::testing
