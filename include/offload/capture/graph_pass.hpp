#pragma once
// graph_pass: one pass of a layer_offloader recorded as a graph (a CUDA graph
// on backend::cuda) and replayed with one launch, however many layers it has.
// layer_offloader::capture(fn) makes one; replay() enqueues the whole pass on
// the offloader's compute stream, copies and write-backs included, and returns
// at once. Replays and eager passes may alternate; each replay counts as a
// pass in the stats. A graph_pass must not outlive its offloader, and replays
// the slots and weights it was recorded with.
#include <cstddef>
#include <utility>
#include <vector>

#include <offload/stats.hpp>

namespace offload {

namespace detail {

// What one recorded pass added to the counters: what every replay adds.
inline counters counters_added(counters const& after, counters const& before) {
    counters d;
    d.passes = after.passes - before.passes;
    d.aborted_passes = after.aborted_passes - before.aborted_passes;
    d.layer_computes = after.layer_computes - before.layer_computes;
    d.layer_loads = after.layer_loads - before.layer_loads;
    d.bytes_host_to_device = after.bytes_host_to_device - before.bytes_host_to_device;
    d.bytes_device_to_host = after.bytes_device_to_host - before.bytes_device_to_host;
    d.logical_bytes_host_to_device = after.logical_bytes_host_to_device - before.logical_bytes_host_to_device;
    d.replayed_passes = after.replayed_passes - before.replayed_passes;
    d.unused_prefetches = after.unused_prefetches - before.unused_prefetches;
    return d;
}

inline void add_counters(counters& to, counters const& d) {
    to.passes += d.passes;
    to.aborted_passes += d.aborted_passes;
    to.layer_computes += d.layer_computes;
    to.layer_loads += d.layer_loads;
    to.bytes_host_to_device += d.bytes_host_to_device;
    to.bytes_device_to_host += d.bytes_device_to_host;
    to.logical_bytes_host_to_device += d.logical_bytes_host_to_device;
    to.replayed_passes += d.replayed_passes;
    to.unused_prefetches += d.unused_prefetches;
}

}  // namespace detail

template <class Offloader>
class graph_pass {
    using graph_type = typename Offloader::backend_type::graph_type;

public:
    graph_pass(graph_pass&& other) noexcept
        : owner_(other.owner_), graphs_(std::move(other.graphs_)), per_replay_(other.per_replay_),
          loads_per_replay_(std::move(other.loads_per_replay_)) {
        other.graphs_.clear();
    }
    graph_pass& operator=(graph_pass&& other) noexcept {
        if (this != &other) {
            destroy();
            owner_ = other.owner_;
            graphs_ = std::move(other.graphs_);
            other.graphs_.clear();
            per_replay_ = other.per_replay_;
            loads_per_replay_ = std::move(other.loads_per_replay_);
        }
        return *this;
    }
    graph_pass(graph_pass const&) = delete;
    graph_pass& operator=(graph_pass const&) = delete;
    ~graph_pass() { destroy(); }

    // Enqueues the pass once more; no host work per layer.
    void replay() { owner_->replay(*this); }

    // What each replay adds to the offloader's counters.
    counters const& per_replay() const noexcept { return per_replay_; }

private:
    friend Offloader;
    explicit graph_pass(Offloader& owner) : owner_(&owner) {}

    std::size_t graph_count() const noexcept { return graphs_.size(); }
    graph_type graph(std::size_t copy) const { return graphs_[copy]; }

    void destroy() noexcept {
        for (auto g : graphs_) owner_->backend().destroy_graph(g);
        graphs_.clear();
    }

    Offloader* owner_;
    std::vector<graph_type> graphs_;
    counters per_replay_{};
    std::vector<std::size_t> loads_per_replay_;
};

}  // namespace offload
