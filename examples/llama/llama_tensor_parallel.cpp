// The tensor-parallel Llama run (see llama_tensor_parallel.hpp). Host code
// (g++); the kernels are cuda_engine's (llama_cuda.cu).
#include "llama_tensor_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <stdexcept>

#include <offload/backend/cuda.hpp>
#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>

#include <offload_examples/dispatch.hpp>
#include <offload_examples/tp/backend_objects.hpp>
#include <offload_examples/tp/comm.hpp>

#include "llama_cuda.hpp"
#include "llama_tp_shard.hpp"

namespace llama::tp {

namespace {

// A rank's engine as generate() drives it: cuda_engine on the rank's share,
// with the partial sums all-reduced through the communicator. A step's host
// waits (the logits, the argmax) come after a polled wait for its layers,
// which hold the collectives, so that a failing peer stops this rank instead
// of hanging it; an exception inside a layer aborts the communicator before
// the offloader's pass, unwinding, waits for the stream.
class rank_engine {
public:
    rank_engine(checkpoint_model const& m, config const& local, std::size_t positions, offload::backend::cuda& b,
                ox::tp::rank_comm& comm, std::optional<injected_failure> inject)
        : backend_(b),
          comm_(comm),
          inject_(inject),
          failing_layer_(local.num_hidden_layers / 2),
          layers_done_(b),
          engine_(local, m.outside(), positions, b.compute_stream(), [this](void* values, std::size_t count) {
              comm_.all_reduce_sum_bf16(values, count, backend_.compute_stream());
          }) {}

    void begin(std::span<std::int32_t const> tokens, std::size_t position) { engine_.begin(tokens, position); }

    void layer(std::size_t i, layer_pointers const& w) {
        try {
            if (inject_ && inject_->pass == step_ && i == failing_layer_)
                ox::tp::fail_on_purpose(*inject_, backend_, failure_variable,
                                        "at pass " + std::to_string(step_) + ", layer " + std::to_string(i) +
                                            " on rank " + std::to_string(comm_.rank()));
            engine_.layer(i, w);
        } catch (...) {
            comm_.peers().stop(comm_.rank());
            comm_.abort();
            throw;
        }
    }

    void finish(std::vector<float>* all_logits) {
        backend_.record(layers_done_.get(), backend_.compute_stream());
        comm_.wait(layers_done_.get(), "waiting for the layers of step " + std::to_string(step_));
        engine_.finish(all_logits);
        ++step_;
    }

    std::int32_t next_token() { return engine_.next_token(); }

private:
    offload::backend::cuda& backend_;
    ox::tp::rank_comm& comm_;
    std::optional<injected_failure> inject_;
    std::size_t failing_layer_;  // the middle layer, where an injected failure happens
    ox::tp::marker_event layers_done_;
    cuda_engine engine_;
    std::size_t step_ = 0;
};
static_assert(engine<rank_engine>);

template <class Residency, class Prefetch, class Profiler>
void run_rank(checkpoint_model const& m, request const& q, ox::tp::group& g, int rank, rank_report& out) {
    out.place = ox::tp::enter_rank(rank);
    shard const s = make_shard(m, rank, q.gpus);
    ox::tp::locate_pages(out.place, s.blocks);
    out.shard_layer_bytes = s.layer_bytes();
    offload::model const model = describe(s, m.layer_type, rank);

    offload::config cfg = q.cfg;
    cfg.summary_every = 0;
    offload::backend::cuda_options opts;
    opts.device = rank;

    // Declared first, destroyed last: its destructor aborts a communicator that was not finished.
    ox::tp::rank_comm comm(g, rank, rank);
    offload::layer_offloader<offload::backend::cuda, Residency, Prefetch, Profiler> off(model, cfg, opts);
    bool const injected_here = q.inject && q.inject->rank == rank;
    rank_engine engine(m, s.local, positions_needed(q.generation), off.backend(), comm,
                       injected_here ? q.inject : std::nullopt);
    ox::tp::abort_on_unwind const guard(comm);

    if (injected_here && !q.inject->pass)
        ox::tp::fail_on_purpose(*q.inject, off.backend(), failure_variable, "at setup on rank " + std::to_string(rank));
    comm.init();
    out.generation = generate(off, engine, q.generation);
    out.stats = off.statistics();
    comm.finish();
}

}  // namespace

result run(checkpoint_model const& m, request const& q) {
    if (m.layer_type != offload::dtype::bf16)
        throw offload::configuration_error(std::string("llama::tp::run: the CUDA engine runs bf16 weights, and this "
                                                       "model's layers are ") +
                                           offload::dtype_name(m.layer_type));
    if (q.gpus < 1) throw offload::configuration_error("llama::tp::run: no GPU asked for");
    (void)rank_config(m.cfg, q.gpus);  // a model that does not split fails here, before any thread starts
    ox::tp::group g(q.gpus);
    std::vector<rank_report> reports(static_cast<std::size_t>(q.gpus));
    ox::tp::run_ranks(g, [&](int rank) {
        ox::dispatch<policies>(q.policies, [&]<class Residency, class Prefetch, class Profiler>() {
            run_rank<Residency, Prefetch, Profiler>(m, q, g, rank, reports[static_cast<std::size_t>(rank)]);
        });
    });

    result out;
    out.generation = reports.front().generation;
    std::vector<offload::stats> per_rank;
    for (auto const& r : reports) {
        if (r.generation.generated != out.generation.generated) {
            auto const& mine = r.generation.generated;
            auto const& first = out.generation.generated;
            std::size_t step = 0;
            while (step < mine.size() && step < first.size() && mine[step] == first[step]) ++step;
            std::string logits;
            if (r.generation.logits.size() == out.generation.logits.size() && !r.generation.logits.empty()) {
                float largest = 0;
                for (std::size_t i = 0; i < r.generation.logits.size(); ++i)
                    largest = std::max(largest, std::abs(r.generation.logits[i] - out.generation.logits[i]));
                logits = "; the logits differ by up to " + std::to_string(largest);
            }
            throw std::runtime_error("llama::tp::run: rank " + std::to_string(r.place.rank) +
                                     " generated other tokens than rank 0, from step " + std::to_string(step) + " (" +
                                     (step < mine.size() ? std::to_string(mine[step]) : "none") + " against " +
                                     (step < first.size() ? std::to_string(first[step]) : "none") + ")" + logits);
        }
        out.generation.prefill_seconds = std::max(out.generation.prefill_seconds, r.generation.prefill_seconds);
        out.generation.decode_seconds = std::max(out.generation.decode_seconds, r.generation.decode_seconds);
        per_rank.push_back(r.stats);
    }
    out.merged = offload::multi::merge(std::move(per_rank));
    out.ranks = std::move(reports);
    return out;
}

}  // namespace llama::tp
