// The tensor-parallel FFN run (see tensor_parallel.hpp). Host code (g++); the
// kernels are cuda_stack's (ffn_cuda.cu).
#include "tensor_parallel.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include <cuda_runtime_api.h>

#include <offload/backend/cuda.hpp>
#include <offload/detail/cuda_check.hpp>
#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>

#include <offload_examples/dispatch.hpp>
#include <offload_examples/tp/backend_objects.hpp>
#include <offload_examples/tp/comm.hpp>

#include "ffn_cuda.hpp"
#include "ffn_random.hpp"
#include "tp_shard.hpp"

namespace ffn::tp {

namespace {

template <class Residency, class Prefetch, class Profiler, class Codec>
void run_rank(request const& q, ox::tp::group& g, int rank, rank_report& out) {
    out.place = ox::tp::enter_rank(rank);
    unsigned const threads = std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(q.gpus));
    shard const s = make_shard(q.d, q.seed, q.layers, rank, q.gpus, threads);
    ox::tp::locate_pages(out.place, s.blocks);
    out.shard_layer_bytes = s.layer_bytes();
    offload::model const model = describe(s, rank);

    offload::config cfg = q.cfg;
    cfg.summary_every = 0;  // one merged summary at the end, not one per rank on the same stderr
    offload::backend::cuda_options opts;
    opts.device = rank;

    // Declared first, destroyed last: its destructor aborts a communicator that was not finished.
    ox::tp::rank_comm comm(g, rank, rank);
    offload::layer_offloader<offload::backend::cuda, Residency, Prefetch, Profiler, Codec> off(model, cfg, opts);
    auto& backend = off.backend();
    cuda_stack stack(s.local, backend.compute_stream());
    std::size_t const values = q.d.batch * q.d.hidden;
    ox::tp::device_buffer update(backend, values * 2, "rank " + std::to_string(rank) + "'s partial layer output");
    ox::tp::marker_event done[2] = {ox::tp::marker_event(backend), ox::tp::marker_event(backend)};
    ox::tp::abort_on_unwind const guard(comm);

    bool const injected_here = q.inject && q.inject->rank == rank;
    if (injected_here && !q.inject->pass)
        ox::tp::fail_on_purpose(*q.inject, backend, failure_variable, "at setup on rank " + std::to_string(rank));
    comm.init();

    std::size_t const total = q.warmup + q.passes;
    auto one_pass = [&](std::size_t p) {
        // At most two passes in flight, as the events profiler keeps: it reads
        // pass p-2's events when pass p begins, which must not block on a collective.
        if (p >= 2) comm.wait(done[p % 2].get(), "waiting for pass " + std::to_string(p - 2));
        stack.set_input(q.seed);
        {
            auto pass = off.pass();
            ox::tp::abort_on_unwind const pass_guard(comm);
            std::size_t l = 0;
            for (auto layer : pass) {
                if (injected_here && q.inject->pass == p && l == q.layers / 2)
                    ox::tp::fail_on_purpose(*q.inject, backend, failure_variable,
                                            "at pass " + std::to_string(p) + ", layer " + std::to_string(l) +
                                                " on rank " + std::to_string(rank));
                stack.layer_update(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3), update.get());
                comm.all_reduce_sum_bf16(update.get(), values, backend.compute_stream());
                stack.add_to_activations(update.get());
                ++l;
            }
        }
        backend.record(done[p % 2].get(), backend.compute_stream());
    };
    auto wait_for_last = [&](std::size_t p) { comm.wait(done[p % 2].get(), "waiting for pass " + std::to_string(p)); };

    for (std::size_t p = 0; p < q.warmup; ++p) one_pass(p);
    if (q.warmup > 0) {
        wait_for_last(q.warmup - 1);
        off.reset_statistics();
    }
    auto const start = std::chrono::steady_clock::now();
    for (std::size_t p = q.warmup; p < total; ++p) one_pass(p);
    wait_for_last(total - 1);
    out.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::vector<std::uint16_t> bits = stack.output();  // the stream is idle: this waits for nothing
    for (std::uint16_t v : bits) out.checksum += static_cast<double>(bf16_to_float(v));
    if (q.keep_output) out.output = std::move(bits);
    out.stats = off.statistics();
    comm.finish();
}

}  // namespace

result run(request const& q) {
    if (q.passes < 1) throw offload::configuration_error("ffn::tp::run: no pass to run");
    if (q.gpus < 1) throw offload::configuration_error("ffn::tp::run: no GPU asked for");
    ox::tp::group g(q.gpus);
    std::vector<rank_report> reports(static_cast<std::size_t>(q.gpus));
    ox::tp::run_ranks(g, [&](int rank) {
        ox::dispatch<policies>(q.policies, [&]<class Residency, class Prefetch, class Profiler, class Codec>() {
            run_rank<Residency, Prefetch, Profiler, Codec>(q, g, rank, reports[static_cast<std::size_t>(rank)]);
        });
    });

    result out;
    std::vector<offload::stats> per_rank;
    for (auto const& r : reports) {
        per_rank.push_back(r.stats);
        out.wall_ms = std::max(out.wall_ms, r.wall_ms);
    }
    out.merged = offload::multi::merge(std::move(per_rank));
    out.ranks = std::move(reports);
    return out;
}

}  // namespace ffn::tp
