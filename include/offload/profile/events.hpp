#pragma once
// profile::events: a timing event on the stream before and after every copy,
// every wait for weights and every layer's compute, and a pair around each
// pass. Events are read only once their pass is done: when its record is about
// to be reused (two passes later) or when stats are asked for.
#include <array>
#include <cstddef>
#include <vector>

#include <offload/detail/timing_accumulator.hpp>
#include <offload/profile/concept.hpp>

namespace offload::profile {

namespace detail {

template <class Backend>
class event_recorder {
    using event = typename Backend::event_type;
    using stream = typename Backend::stream_type;

public:
    event_recorder(Backend& backend, std::size_t layers) : backend_(backend), totals_(layers) {
        for (auto& r : records_) r.layers.resize(layers);
    }
    event_recorder(event_recorder const&) = delete;
    event_recorder& operator=(event_recorder const&) = delete;
    ~event_recorder() {
        for (auto& r : records_) {
            release(r.begin);
            release(r.end);
            for (auto& l : r.layers)
                for (auto e : {l.copy_begin, l.copy_end, l.wait_begin, l.compute_begin, l.compute_end,
                               l.release_begin, l.release_end})
                    release(e);
        }
    }

    void pass_begin(stream s) {
        auto& r = records_[next_ % records_.size()];
        if (r.pending) resolve(r);
        for (auto& l : r.layers) l.copied = l.waited = l.released = false;
        mark(r.begin, s);
        current_ = &r;
    }
    void copy_begin(std::size_t layer, stream s) { mark(current_->layers[layer].copy_begin, s); }
    void copy_end(std::size_t layer, std::size_t bytes, stream s) {
        auto& l = current_->layers[layer];
        mark(l.copy_end, s);
        l.copied = true;
        l.bytes_in = bytes;
    }
    void wait_begin(std::size_t layer, stream s) {
        mark(current_->layers[layer].wait_begin, s);
        current_->layers[layer].waited = true;
    }
    void compute_begin(std::size_t layer, stream s) { mark(current_->layers[layer].compute_begin, s); }
    void compute_end(std::size_t layer, stream s) { mark(current_->layers[layer].compute_end, s); }
    void release_begin(std::size_t layer, stream s) { mark(current_->layers[layer].release_begin, s); }
    void release_end(std::size_t layer, std::size_t, stream s) {
        mark(current_->layers[layer].release_end, s);
        current_->layers[layer].released = true;
    }
    void pass_end(stream s) {
        mark(current_->end, s);
        current_->pending = true;
        current_ = nullptr;
        ++next_;
    }
    // The broken pass's record is simply not marked pending: it is never read.
    void pass_abort() noexcept { current_ = nullptr; }

    void fill(stats& out) {
        // Oldest first, so that per-pass figures keep their order.
        for (std::size_t k = 0; k < records_.size(); ++k) {
            auto& r = records_[(next_ + k) % records_.size()];
            if (r.pending) resolve(r);
        }
        totals_.fill(out);
    }
    void reset() {
        for (auto& r : records_)
            if (r.pending) {
                backend_.synchronize(r.end);
                r.pending = false;
            }
        totals_.reset();
    }

private:
    struct layer_events {
        event copy_begin{}, copy_end{}, wait_begin{}, compute_begin{}, compute_end{}, release_begin{}, release_end{};
        std::size_t bytes_in = 0;
        bool copied = false, waited = false, released = false;
    };
    struct pass_record {
        event begin{}, end{};
        std::vector<layer_events> layers;
        bool pending = false;
    };

    // Events are created the first time a step is timed and reused after that.
    void mark(event& e, stream s) {
        if (e == event{}) e = backend_.event_create(true);
        backend_.record(e, s);
    }
    void release(event e) noexcept {
        if (e != event{}) backend_.event_destroy(e);
    }

    void resolve(pass_record& r) {
        backend_.synchronize(r.end);
        offload::detail::measured_pass m;
        m.layers.resize(r.layers.size());
        for (std::size_t i = 0; i < r.layers.size(); ++i) {
            auto const& l = r.layers[i];
            auto& out = m.layers[i];
            out.compute_ms = backend_.elapsed_ms(l.compute_begin, l.compute_end);
            if (l.waited) out.stall_ms = backend_.elapsed_ms(l.wait_begin, l.compute_begin);
            if (l.copied) {
                out.transfer_ms = backend_.elapsed_ms(l.copy_begin, l.copy_end);
                out.bytes_in = l.bytes_in;
            }
            if (l.released) out.release_ms = backend_.elapsed_ms(l.release_begin, l.release_end);
        }
        m.wall_ms = backend_.elapsed_ms(r.begin, r.end);
        totals_.add(m);
        r.pending = false;
    }

    Backend& backend_;
    // Two records: the host may enqueue one pass while the device still runs the last.
    std::array<pass_record, 2> records_;
    pass_record* current_ = nullptr;
    std::size_t next_ = 0;
    offload::detail::timing_accumulator totals_;
};

}  // namespace detail

struct events {
    using policy_kind = offload::policy_kind::profiler;
    static constexpr char const* name = "events";
    template <class Backend>
    using recorder = detail::event_recorder<Backend>;
};

static_assert(profiler_policy<events>);

}  // namespace offload::profile
