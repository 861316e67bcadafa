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
