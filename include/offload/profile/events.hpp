#pragma once
// profile::events: a timing event on the stream before and after every copy,
// every wait for weights and every layer's compute, and a pair around each
// pass. Events are read only once their pass is done: when its record is about
// to be reused (two passes later) or when stats are asked for.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <offload/detail/timing_accumulator.hpp>
#include <offload/profile/concept.hpp>
#include <offload/profile/trace.hpp>

namespace offload::profile {

namespace detail {

template <class Backend>
class event_recorder {
    using event = typename Backend::event_type;
    using stream = typename Backend::stream_type;

public:
    static constexpr bool measures_time = true;
    static constexpr std::size_t graph_records = 2;
    event_recorder(Backend& backend, std::size_t layers) : backend_(backend), totals_(layers) {
        for (auto* r : all_records()) r->layers.resize(layers);
    }
    event_recorder(event_recorder const&) = delete;
    event_recorder& operator=(event_recorder const&) = delete;
    ~event_recorder() {
        release(reference_);
        for (auto* r : all_records()) {
            release(r->begin);
            release(r->end);
            for (auto& l : r->layers) {
                event const events[] = {l.copy_begin,  l.copy_end,      l.wait_begin,  l.decode_begin, l.decode_end,
                                        l.compute_begin, l.compute_end, l.release_begin, l.release_end};
                for (auto e : events) release(e);
            }
        }
    }

    void pass_begin(stream s) {
        if (capture_target_ != nullptr) {  // a recording: replays mark these events, nothing reads them now
            clear(*capture_target_);
            mark(capture_target_->begin, s);
            current_ = capture_target_;
            return;
        }
        auto& r = records_[next_ % records_.size()];
        // Copies issued ahead for this pass have already marked its record.
        if (&r != next_pass_) prepare(r);
        next_pass_ = nullptr;
        if (trace_ && !reference_recorded_) {
            mark(reference_, s);
            host_reference_ = std::chrono::steady_clock::now();
            reference_recorded_ = true;
        }
        // Only passes that begin once the trace has its reference are traced.
        r.traced = trace_ != nullptr;
        mark(r.begin, s);
        r.host_begin = std::chrono::steady_clock::now();
        r.index = next_;
        current_ = &r;
    }
    void copy_begin(std::size_t layer, stream s) { mark(current_->layers[layer].copy_begin, s); }
    void copy_end(std::size_t layer, std::size_t bytes, stream s) { copied(*current_, layer, bytes, s); }
    // A copy issued during this pass for the next one belongs to the next one's record.
    void next_pass_copy_begin(std::size_t layer, stream s) { mark(next_record().layers[layer].copy_begin, s); }
    void next_pass_copy_end(std::size_t layer, std::size_t bytes, stream s) { copied(next_record(), layer, bytes, s); }
    void drop_next_pass() noexcept { next_pass_ = nullptr; }
    void wait_begin(std::size_t layer, stream s) {
        mark(current_->layers[layer].wait_begin, s);
        current_->layers[layer].waited = true;
    }
    void decode_begin(std::size_t layer, stream s) { mark(current_->layers[layer].decode_begin, s); }
    void decode_end(std::size_t layer, stream s) {
        mark(current_->layers[layer].decode_end, s);
        current_->layers[layer].decoded = true;
    }
    void compute_begin(std::size_t layer, stream s) { mark(current_->layers[layer].compute_begin, s); }
    void compute_end(std::size_t layer, stream s) { mark(current_->layers[layer].compute_end, s); }
    void release_begin(std::size_t layer, stream s) { mark(current_->layers[layer].release_begin, s); }
    void release_end(std::size_t layer, std::size_t bytes, stream s) {
        mark(current_->layers[layer].release_end, s);
        current_->layers[layer].released = true;
        current_->layers[layer].bytes_out = bytes;
    }
    void pass_end(stream s) {
        auto& r = *std::exchange(current_, nullptr);
        mark(r.end, s);
        if (std::exchange(capture_target_, nullptr) != nullptr) return;
        r.host_end = std::chrono::steady_clock::now();
        r.pending = true;
        ++next_;
    }
    // The broken pass's record is simply not marked pending: it is never read.
    void pass_abort() noexcept {
        current_ = nullptr;
        capture_target_ = nullptr;
        next_pass_ = nullptr;
    }

    // The next pass, begin to end, is the recording of graph `copy`.
    void capture_begin(std::size_t copy) { capture_target_ = &graph_records_.at(copy); }
    // A replay reuses its graph's events: the last replay of that graph is read first.
    void replay_begin(std::size_t copy, stream s) {
        auto& r = graph_records_[copy];
        if (r.pending) resolve(r);
        if (trace_ && !reference_recorded_) {
            mark(reference_, s);
            host_reference_ = std::chrono::steady_clock::now();
            reference_recorded_ = true;
        }
        r.traced = trace_ != nullptr;
        r.host_begin = std::chrono::steady_clock::now();
    }
    void replay_end(std::size_t copy, stream) {
        auto& r = graph_records_[copy];
        r.host_end = std::chrono::steady_clock::now();
        r.index = next_++;
        r.pending = true;
    }

    void fill(stats& out) {
        resolve_pending();
        totals_.fill(out);
    }
    void reset() {
        for (auto* r : all_records())
            if (r->pending) {
                backend_.synchronize(r->end);
                r->pending = false;
            }
        totals_.reset();
    }

    // Every pass that begins from now on adds its spans to a trace written to
    // path; passes already enqueued are measured but not traced.
    void trace_to(std::filesystem::path const& path) {
        auto next = std::make_unique<trace_log>(path);
        resolve_pending();  // passes traced so far belong to the previous trace, timed from its reference
        if (trace_) trace_->write();
        trace_ = std::move(next);
        reference_recorded_ = false;
    }
    trace_log* trace() { return trace_.get(); }

private:
    struct layer_events {
        event copy_begin{}, copy_end{}, wait_begin{}, decode_begin{}, decode_end{}, compute_begin{}, compute_end{},
            release_begin{}, release_end{};
        std::size_t bytes_in = 0, bytes_out = 0;
        bool copied = false, waited = false, released = false, decoded = false;
    };
    struct pass_record {
        event begin{}, end{};
        std::vector<layer_events> layers;
        bool pending = false;
        bool traced = false;
        std::size_t index = 0;
        std::chrono::steady_clock::time_point host_begin{}, host_end{};
    };

    std::vector<pass_record*> all_records() {
        std::vector<pass_record*> all;
        for (auto& r : records_) all.push_back(&r);
        for (auto& r : graph_records_) all.push_back(&r);
        return all;
    }
    static void clear(pass_record& r) {
        for (auto& l : r.layers) l.copied = l.waited = l.released = l.decoded = false;
    }
    // Readies a record for a new pass: the pass that used it last is read first.
    void prepare(pass_record& r) {
        if (r.pending) resolve(r);
        clear(r);
    }
    pass_record& next_record() {
        if (next_pass_ == nullptr) {
            next_pass_ = &records_[(next_ + 1) % records_.size()];
            prepare(*next_pass_);
        }
        return *next_pass_;
    }
    void copied(pass_record& r, std::size_t layer, std::size_t bytes, stream s) {
        auto& l = r.layers[layer];
        mark(l.copy_end, s);
        l.copied = true;
        l.bytes_in = bytes;
    }

    // Oldest first, so that per-pass figures keep their order.
    void resolve_pending() {
        std::vector<pass_record*> pending;
        for (auto* r : all_records())
            if (r->pending) pending.push_back(r);
        std::sort(pending.begin(), pending.end(), [](auto* a, auto* b) { return a->index < b->index; });
        for (auto* r : pending) resolve(*r);
    }

    // Events are created the first time a step is timed and reused after that.
    void mark(event& e, stream s) {
        if (e == event{}) e = backend_.event_create(true);
        offload::record_timing(backend_, e, s);
    }
    void release(event e) noexcept {
        if (e != event{}) backend_.event_destroy(e);
    }

    void resolve(pass_record& r) {
        // A record that cannot be read is dropped, so that it is never counted
        // twice and does not fail every later pass.
        r.pending = false;
        backend_.synchronize(r.end);
        offload::detail::measured_pass m;
        m.layers.resize(r.layers.size());
        for (std::size_t i = 0; i < r.layers.size(); ++i) {
            auto const& l = r.layers[i];
            auto& out = m.layers[i];
            out.compute_ms = backend_.elapsed_ms(l.compute_begin, l.compute_end);
            // The stall ends where the layer's own work begins: its decode, if it has one.
            if (l.waited) out.stall_ms = backend_.elapsed_ms(l.wait_begin, l.decoded ? l.decode_begin : l.compute_begin);
            if (l.decoded) out.decode_ms = backend_.elapsed_ms(l.decode_begin, l.decode_end);
            if (l.copied) {
                out.transfer_ms = backend_.elapsed_ms(l.copy_begin, l.copy_end);
                out.bytes_in = l.bytes_in;
            }
            if (l.released) out.release_ms = backend_.elapsed_ms(l.release_begin, l.release_end);
        }
        m.wall_ms = backend_.elapsed_ms(r.begin, r.end);
        // Copies run ahead of the compute stream: the first may start before the pass does.
        m.window_ms = m.wall_ms;
        for (auto const& l : r.layers)
            if (l.copied) {
                m.window_ms += std::max(0.0, -backend_.elapsed_ms(r.begin, l.copy_begin));
                break;
            }
        totals_.add(m);
        if (r.traced && trace_) add_spans(r);
    }

    void add_spans(pass_record const& r) {
        // Every time from the one reference, so that events in stream order keep their order.
        auto at_us = [&](event e) { return 1e3 * backend_.elapsed_ms(reference_, e); };
        auto span = [&](std::string name, trace_track track, double from_us, double to_us, std::size_t layer,
                        std::size_t bytes) {
            trace_->add({std::move(name), track, from_us, to_us - from_us, layer, r.index, bytes});
        };
        constexpr auto no_layer = static_cast<std::size_t>(-1);
        using us = std::chrono::duration<double, std::micro>;
        span("pass " + std::to_string(r.index), trace_track::host, us(r.host_begin - host_reference_).count(),
             us(r.host_end - host_reference_).count(), no_layer, 0);
        span("pass " + std::to_string(r.index), trace_track::compute, at_us(r.begin), at_us(r.end), no_layer, 0);
        for (std::size_t i = 0; i < r.layers.size(); ++i) {
            auto const& l = r.layers[i];
            auto const layer = std::to_string(i);
            if (l.copied) span("copy layer " + layer, trace_track::copy, at_us(l.copy_begin), at_us(l.copy_end), i, l.bytes_in);
            double const compute_begin = at_us(l.compute_begin);
            double const work_begin = l.decoded ? at_us(l.decode_begin) : compute_begin;
            if (l.waited) span("wait layer " + layer, trace_track::compute, at_us(l.wait_begin), work_begin, i, 0);
            if (l.decoded) span("decode layer " + layer, trace_track::compute, work_begin, at_us(l.decode_end), i, 0);
            span("compute layer " + layer, trace_track::compute, compute_begin, at_us(l.compute_end), i, 0);
            if (l.released)
                span("write back layer " + layer, trace_track::writeback, at_us(l.release_begin), at_us(l.release_end),
                     i, l.bytes_out);
        }
    }

    Backend& backend_;
    // Three records: the host may enqueue one pass while the device still runs
    // the last, and issue copies for the one after.
    std::array<pass_record, 3> records_;
    std::array<pass_record, graph_records> graph_records_;
    pass_record* current_ = nullptr;
    pass_record* next_pass_ = nullptr;       // marked by copies issued for the next pass
    pass_record* capture_target_ = nullptr;  // the graph being recorded
    std::size_t next_ = 0;
    offload::detail::timing_accumulator totals_;
    std::unique_ptr<trace_log> trace_;
    event reference_{};  // recorded once, at the first traced pass: time zero of the trace
    bool reference_recorded_ = false;
    std::chrono::steady_clock::time_point host_reference_{};
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
