#pragma once
// The graph steps of detail::basic_offloader (layer_offloader.hpp declares
// them): capturing a pass and replaying it. They sit apart from the eager
// scheduler they reuse; docs/design.md, "Graph passes", gives the event rules.
// layer_offloader.hpp includes it at its end; either may be included first.
#include <cstddef>
#include <iostream>
#include <utility>
#include <vector>

#include <offload/capture/graph_pass.hpp>
#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/profile/optional_hooks.hpp>
#include <offload/summary.hpp>

namespace offload::detail {

// A graph's copies must not overtake copies issued ahead by the last eager
// pass: those are waited for, and not used.
template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
void basic_offloader<Backend, Residency, Prefetch, Profiler, Codec>::settle_before_graph() {
    if (prefetched_ == 0) return;
    auto const compute = backend_.compute_stream();
    backend_.record(join_, backend_.copy_stream());
    backend_.wait(compute, join_);
    counts_.unused_prefetches += std::exchange(prefetched_, 0);
    profile::drop_next_pass(recorder_);
}

// One pass recorded on the compute stream. The copy and write-back streams
// fork from it and join it again, and every event the pass waits for is
// recorded inside the capture first.
template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
template <class Fn>
auto basic_offloader<Backend, Residency, Prefetch, Profiler, Codec>::record_graph(Fn& fn, std::size_t copy) {
    auto const compute = backend_.compute_stream();
    backend_.begin_capture(compute);
    capturing_ = true;
    try {
        backend_.record(join_, compute);
        backend_.wait(backend_.copy_stream(), join_);
        backend_.wait(backend_.writeback_stream(), join_);
        order_after_compute();
        profile::capture_begin(recorder_, copy);
        run_pass(fn);
        join_into_compute();
        capturing_ = false;
        return backend_.end_capture(compute);
    } catch (...) {
        capturing_ = false;
        // A capture ends only once the streams it forked have joined it.
        try {
            join_into_compute();
        } catch (backend_error const&) {  // a broken capture refuses it; ending it still works
        }
        backend_.abandon_capture(compute);
        throw;
    }
}

template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
void basic_offloader<Backend, Residency, Prefetch, Profiler, Codec>::join_into_compute() {
    for (auto s : {backend_.copy_stream(), backend_.writeback_stream()}) {
        backend_.record(join_, s);
        backend_.wait(backend_.compute_stream(), join_);
    }
}

// Events last recorded inside a capture cannot be waited for outside it, and a
// replay is known to the compute stream only: the events an eager pass waits
// for are recorded again after whatever the compute stream holds now.
template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
void basic_offloader<Backend, Residency, Prefetch, Profiler, Codec>::order_after_compute() {
    auto const compute = backend_.compute_stream();
    for (auto& sl : slots_) backend_.record(sl.freed, compute);
    for (auto e : written_back_)
        if (e != event_type{}) backend_.record(e, compute);
}

template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
template <class Fn>
graph_pass<basic_offloader<Backend, Residency, Prefetch, Profiler, Codec>> basic_offloader<Backend, Residency, Prefetch, Profiler, Codec>::capture(Fn&& fn) {
    static_assert(capturing_backend<Backend>,
                  "offload::layer_offloader::capture: this backend cannot record a graph; use "
                  "offload::backend::cuda, or run_pass() to run passes eagerly");
    [[maybe_unused]] auto const on_device = backend_.on_device();
    if (in_pass_) throw configuration_error("offload: a pass is running on this offloader; capture after it ends");
    settle_before_graph();
    graph_pass<basic_offloader> g(*this);
    // A capture is not a run: what it counts is kept as what a replay adds.
    counters const counts_before = counts_;
    std::vector<std::size_t> const loads_before = loads_;
    // A profiler that times replays gets several recordings, each with its
    // own events, so that a replay need not wait for the last to be read.
    std::size_t const copies = profile::graph_records<recorder_type>();
    g.graphs_.reserve(copies);
    try {
        for (std::size_t copy = 0; copy < copies; ++copy) {
            counts_ = counts_before;
            loads_ = loads_before;
            g.graphs_.push_back(record_graph(fn, copy));
        }
    } catch (...) {
        counts_ = counts_before;
        loads_ = loads_before;
        order_after_compute();
        throw;
    }
    order_after_compute();
    g.per_replay_ = counts_ - counts_before;
    for (std::size_t i = 0; i < loads_.size(); ++i) g.loads_per_replay_.push_back(loads_[i] - loads_before[i]);
    counts_ = counts_before;
    loads_ = loads_before;
    return g;
}

template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
void basic_offloader<Backend, Residency, Prefetch, Profiler, Codec>::replay(graph_pass<basic_offloader>& g) {
    [[maybe_unused]] auto const on_device = backend_.on_device();
    if (in_pass_) throw configuration_error("offload: a pass is running on this offloader; replay after it ends");
    try {
        settle_before_graph();
        auto const compute = backend_.compute_stream();
        std::size_t const copy = replays_++ % g.graph_count();
        profile::replay_begin(recorder_, copy, compute);
        backend_.launch(g.graph(copy), compute);
        profile::replay_end(recorder_, copy, compute);
        order_after_compute();
    } catch (backend_error const& e) {
        throw e.within("replaying a captured pass");
    }
    counts_ += g.per_replay_;
    ++counts_.replayed_passes;
    for (std::size_t i = 0; i < loads_.size(); ++i) loads_[i] += g.loads_per_replay_[i];
    if (cfg_.summary_every != 0 && counts_.passes % cfg_.summary_every == 0)
        write_summary(cfg_.summary_stream != nullptr ? *cfg_.summary_stream : std::clog, statistics());
}

}  // namespace offload::detail
