// What profile::events costs over profile::none: the same stack, residency and
// prefetch (lookahead<4>) through two offloaders that differ only in the
// profiler, passes alternating between them so that drift (clocks, heat)
// falls on both alike. Counters: events_ms, none_ms (medians), ratio
// (events / none) and cost_pct; host_* the host time to enqueue a pass.
//
// Cases: the 8B stack at K in {0, 12} and batch in {1, 4096}, and the 512 x
// 4.3 MB stack at batch 1, where per-layer costs weigh most.
// Names: profiler_cost/<stack>/K:<k>/batch:<b>.
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

void cost_case(benchmark::State& state, stack_shape const& shape, std::size_t resident, std::size_t batch) {
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

        bench::event_timer t;
        auto timed_pass = [&](auto& off, std::vector<double>& ms, std::vector<double>& host_ms) {
            return bench::timed_pass(off, fs, t, ms, host_ms);
        };
        std::vector<double> warm, events_ms, none_ms, events_host, none_host;
        timed_pass(timed, warm, warm);
        timed_pass(untimed, warm, warm);
        timed.reset_statistics();

        bool events_first = true;
        for (auto _ : state) {
            // Alternate which one goes first, too.
            if (events_first) {
                state.SetIterationTime(timed_pass(timed, events_ms, events_host) / 1e3);
                timed_pass(untimed, none_ms, none_host);
            } else {
                timed_pass(untimed, none_ms, none_host);
                state.SetIterationTime(timed_pass(timed, events_ms, events_host) / 1e3);
            }
            events_first = !events_first;
        }

        double const e = bench::median(events_ms), n = bench::median(none_ms);
        auto& k = state.counters;
        k["events_ms"] = e;
        k["none_ms"] = n;
        k["ratio"] = n > 0 ? e / n : 0;
        k["cost_pct"] = n > 0 ? (e / n - 1) * 100 : 0;
        k["host_events_ms"] = bench::median(events_host);
        k["host_none_ms"] = bench::median(none_host);
        k["floor_ms"] = floor.floor_ms;
        k["none_ratio_to_floor"] = n / floor.floor_ms;
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
        state.SetLabel(shape.name + " K=" + std::to_string(resident) + " batch=" + std::to_string(batch) + " la4");
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
}

void add(stack_shape const& shape, std::size_t resident, std::size_t batch, int iterations) {
    std::string const name =
        "profiler_cost/" + shape.name + "/K:" + std::to_string(resident) + "/batch:" + std::to_string(batch);
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { cost_case(st, shape, resident, batch); })
        ->UseManualTime()
        ->Iterations(iterations)
        ->Unit(benchmark::kMillisecond);
}

void register_all() {
    auto const big = bench::llama_8b();
    for (std::size_t k : {0, 12})
        for (std::size_t b : {1, 4096}) add(big, k, b, 6);
    add(bench::stack_512(), 0, 1, 15);
}

}  // namespace

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv, register_all); }
