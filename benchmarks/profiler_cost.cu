// What profile::events costs over profile::none: the same stack, residency and
// prefetch (lookahead<4>) through two offloaders that differ only in the
// profiler, sequences of passes alternating between them so that drift
// (clocks, heat) falls on both alike. Counters: events_ms, none_ms (medians
// per pass), ratio (events / none) and cost_pct; host_*_us the host time to
// enqueue a pass (the eager loop, or the replay() call).
//
// Each iteration times a sequence of passes_per_sequence passes of each
// offloader (bench::timed_sequence, back to back), never synchronising an
// offloader: with prefetch across passes, the last pass of one sequence
// issues copies that run on into the other offloader's window. Both move the
// same bytes, so each window holds one sequence's worth of copies either way.
//
// Cases: the 8B stack at K in {0, 12} and batch in {1, 4096}, and the 512 x
// 4.3 MB stack at batch 1, where per-layer costs weigh most, eager (an
// off.pass() loop); and the 8B stack at K = 0, batch 1 and 4096, with each
// offloader's pass captured once and replayed (graph), where the events
// become event nodes of the graph.
// Names: profiler_cost/<stack>/K:<k>/batch:<b>[/graph].
//
// Built as C++ by the host compiler (the offload headers are host code).
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <offload/backend/cuda.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/first_n.hpp>

#include "common.hpp"

namespace {

using bench::stack_shape;

template <class Profiler>
using offloader_t = offload::layer_offloader<offload::backend::cuda, offload::residency::first_n,
                                             offload::prefetch::lookahead<4>, Profiler>;

enum class way { eager, graph };

constexpr int passes_per_sequence = 4;

void cost_case(benchmark::State& state, stack_shape const& shape, std::size_t resident, std::size_t batch, way how) {
    try {
        auto& c = bench::ctx();
        auto& stack = c.stack(shape);
        std::string const group = shape.name + "/K:" + std::to_string(resident);
        auto const cfg = bench::make_config(resident, bench::host_source::shared_pinned);
        auto& timed = c.offloader<offloader_t<offload::profile::events>>(group, group + "/events", [&] {
            return std::make_shared<offloader_t<offload::profile::events>>(stack.model(), cfg, c.backend_options());
        });
        auto& untimed = c.offloader<offloader_t<offload::profile::none>>(group, group + "/none", [&] {
            return std::make_shared<offloader_t<offload::profile::none>>(stack.model(), cfg, c.backend_options());
        });
        auto& fs = c.ffn_stack(batch);
        auto const floor = c.floor(resident, batch);

        std::vector<double> events_ms, none_ms, events_host, none_host;
        auto measure = [&](auto&& timed_pass, auto&& untimed_pass) {
            bench::event_timer t;
            auto sequence = [&](auto&& one_pass, std::vector<double>& ms, std::vector<double>& host_us) {
                double const m =
                    bench::timed_sequence(fs, t, bench::pass_mode::b2b, passes_per_sequence, one_pass, host_us);
                ms.push_back(m);
                return m;
            };
            std::vector<double> warm;  // one pass each: first-use costs, and the first copies of the next pass in flight
            bench::timed_sequence(fs, t, bench::pass_mode::b2b, 1, timed_pass, warm);
            bench::timed_sequence(fs, t, bench::pass_mode::b2b, 1, untimed_pass, warm);
            timed.reset_statistics();  // waits for the warm-up's recorded pass, not for the copies in flight

            bool events_first = true;
            for (auto _ : state) {
                // Alternate which one goes first, too.
                if (events_first) {
                    state.SetIterationTime(sequence(timed_pass, events_ms, events_host) / 1e3);
                    sequence(untimed_pass, none_ms, none_host);
                } else {
                    sequence(untimed_pass, none_ms, none_host);
                    state.SetIterationTime(sequence(timed_pass, events_ms, events_host) / 1e3);
                }
                events_first = !events_first;
            }
        };
        if (how == way::eager) {
            measure([&] { bench::ffn_pass(timed, fs); }, [&] { bench::ffn_pass(untimed, fs); });
        } else {
            auto layer_fn = [&fs](auto const& layer) {
                fs.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
            };
            auto timed_graph = timed.capture(layer_fn);
            auto untimed_graph = untimed.capture(layer_fn);
            measure([&] { timed_graph.replay(); }, [&] { untimed_graph.replay(); });
        }

        double const e = bench::median(events_ms), n = bench::median(none_ms);
        auto& k = state.counters;
        k["events_ms"] = e;
        k["none_ms"] = n;
        k["ratio"] = n > 0 ? e / n : 0;
        k["cost_pct"] = n > 0 ? (e / n - 1) * 100 : 0;
        k["host_events_us"] = bench::median(events_host);
        k["host_none_us"] = bench::median(none_host);
        k["floor_ms"] = floor.floor_ms;
        k["none_ratio_to_floor"] = n / floor.floor_ms;
        k["passes_per_sequence"] = passes_per_sequence;
        k["K"] = static_cast<double>(resident);
        k["batch"] = static_cast<double>(batch);
        k["layers"] = static_cast<double>(shape.layers);

        // What the events profiler itself reports over the same passes.
        auto const s = timed.statistics();
        if (s.timing) {
            k["stats_wall_ms"] = s.timing->pass_wall.median_ms;
            if (s.timing->h2d_gb_per_s) k["stats_h2d_GBps"] = *s.timing->h2d_gb_per_s;
            if (s.timing->overlap_efficiency) k["stats_overlap_eff"] = *s.timing->overlap_efficiency;
            if (s.timing->transfer_overhead_ms)
                k["stats_stall_ms"] = *s.timing->transfer_overhead_ms / static_cast<double>(s.timing->pass_wall.count);
        }
        state.SetLabel(shape.name + " K=" + std::to_string(resident) + " batch=" + std::to_string(batch) + " la4 " +
                       (how == way::eager ? "eager" : "graph"));
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
}

void add(stack_shape const& shape, std::size_t resident, std::size_t batch, way how, int iterations) {
    std::string id =
        "profiler_cost/" + shape.name + "/K:" + std::to_string(resident) + "/batch:" + std::to_string(batch);
    if (how == way::graph) id += "/graph";
    benchmark::RegisterBenchmark(id.c_str(),
                                 [=](benchmark::State& st) { cost_case(st, shape, resident, batch, how); })
        ->UseManualTime()
        ->Iterations(iterations)
        ->Unit(benchmark::kMillisecond);
}

void register_all() {
    // An even number of iterations: each offloader goes first as often. The
    // cases of one stack and K share the two offloaders: they run together.
    auto const big = bench::llama_8b();
    for (std::size_t k : {0, 12})
        for (std::size_t b : {1, 4096}) {
            add(big, k, b, way::eager, 4);
            if (k == 0) add(big, k, b, way::graph, 4);
        }
    add(bench::stack_512(), 0, 1, way::eager, 10);
}

}  // namespace

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv, register_all); }
