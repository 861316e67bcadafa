// Pass time of the cuBLAS FFN stack through layer_offloader, over the floor
// max(streamed bytes / pinned H2D bandwidth, all-resident compute time) measured
// in the same process (DESIGN.md, "Performance model").
//
// Stacks: the Llama-3-8B-shaped 32 x 352 MB stack (first K layers resident,
// K in {0, 4, 12, 20}; batch 1, 4096, 16384), 512 x 4.3 MB and 1024 x 1 MB
// layers (K = 0, batch 1); prefetch lookahead<4>, profile::none throughout.
// Each cell in two modes and two ways:
//   b2b    passes enqueued back to back, the host never waits;
//   loop   after each pass the host reads one output value back and waits for
//          it, as a sampler reads its token (that wait is inside the time);
//   eager  an off.pass() loop per pass;
//   graph  the pass captured once (off.capture) and replayed per pass, held to
//          the graph floor max(transfer, all-resident compute replayed as a
//          CUDA graph) as well.
// Names: pass/<stack>/K:<k>/batch:<b>/<b2b|loop>/<eager|graph>[/host:library_pinned];
// select with --benchmark_filter.
//
// Each case: one pass whose output is checked against the all-resident one,
// then each iteration times a sequence of passes_per_iteration passes with one
// pair of CUDA events (bench::timed_sequence), never synchronising the
// offloader: with prefetch across passes (on by default) the copies a pass
// issues for the next one belong to the run, and timing a pass alone, then
// waiting for everything, would leave them out. Time and ms are per pass (the
// window over the passes); counters give the median over the iterations.
//
// Built as C++ by the host compiler (the offload headers are host code).
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <offload/backend/cuda.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/first_n.hpp>

#include "common.hpp"

namespace {

using bench::host_source;
using bench::pass_mode;
using bench::stack_shape;

using offloader_t = offload::layer_offloader<offload::backend::cuda, offload::residency::first_n,
                                             offload::prefetch::lookahead<4>, offload::profile::none>;

enum class way { eager, graph };
char const* name(way w) { return w == way::eager ? "eager" : "graph"; }

// Passes timed as one window per iteration: enough that the copies running
// across the window's edges weigh little, few enough to keep the grid short.
constexpr int passes_per_iteration = 4;

struct pass_case_spec {
    stack_shape shape;
    std::size_t resident = 0;
    std::size_t batch = 1;
    pass_mode mode = pass_mode::b2b;
    way how = way::eager;
    host_source src = host_source::shared_pinned;
};

struct measured {
    std::vector<double> ms;       // per pass, one per iteration
    std::vector<double> host_us;  // host time of each pass's enqueue (eager loop or replay() call)
    bool identical = false;       // the first pass's output is the all-resident output, bit for bit
};

void pass_case(benchmark::State& state, pass_case_spec const& cs) {
    try {
        auto& c = bench::ctx();
        auto& stack = c.stack(cs.shape);
        // One offloader per stack, K and host source, shared by the batches, modes and ways.
        std::string const key = cs.shape.name + "/K:" + std::to_string(cs.resident) + "/" + bench::name(cs.src);
        auto& off = c.offloader<offloader_t>(key, key, [&] {
            return std::make_shared<offloader_t>(stack.model(), bench::make_config(cs.resident, cs.src),
                                                 c.backend_options());
        });
        auto& fs = c.ffn_stack(cs.batch);
        auto const floor = c.floor(cs.resident, cs.batch);
        auto const& compute = c.compute(cs.batch);

        auto measure = [&](auto&& one_pass) {
            measured m;
            fs.set_input(bench::input_seed);
            one_pass();
            m.identical = bench::fnv1a(fs.output()) == compute.output_hash;  // waits for the compute stream only
            bench::event_timer t;
            for (auto _ : state) {
                double const per_pass =
                    bench::timed_sequence(fs, t, cs.mode, passes_per_iteration, one_pass, m.host_us);
                m.ms.push_back(per_pass);
                state.SetIterationTime(per_pass / 1e3);
            }
            return m;
        };
        measured m;
        if (cs.how == way::eager) {
            m = measure([&] { bench::ffn_pass(off, fs); });
        } else {
            // Captured once per case: the graph holds this batch's activations.
            auto graph = off.capture([&fs](auto const& layer) {
                fs.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
            });
            m = measure([&] { graph.replay(); });
        }

        double const med = bench::median(m.ms);
        auto& k = state.counters;
        k["ms"] = med;
        k["min_ms"] = *std::min_element(m.ms.begin(), m.ms.end());
        k["floor_ms"] = floor.floor_ms;
        k["ratio"] = med / floor.floor_ms;
        k["transfer_ms"] = floor.transfer_ms;
        k["compute_ms"] = floor.compute_ms;
        if (cs.how == way::graph) {
            auto const& cg = c.compute_graph(cs.batch);
            double const graph_floor = std::max(floor.transfer_ms, cg.ms);
            k["compute_graph_ms"] = cg.ms;
            k["graph_floor_ms"] = graph_floor;
            k["graph_ratio"] = med / graph_floor;
            k["compute_graph_bit_identical"] = cg.output_hash == compute.output_hash ? 1 : 0;
        }
        k["GBps"] = med > 0 ? static_cast<double>(floor.streamed_bytes) / (med * 1e6) : 0;
        k["h2d_GBps"] = c.h2d_pinned_gbps();
        k["host_us_per_pass"] = bench::median(m.host_us);
        k["passes_per_iteration"] = passes_per_iteration;
        k["K"] = static_cast<double>(cs.resident);
        k["batch"] = static_cast<double>(cs.batch);
        k["layers"] = static_cast<double>(cs.shape.layers);
        k["slots"] = static_cast<double>(off.staging_slots());
        k["bit_identical"] = m.identical ? 1 : 0;
        k["nonfinite"] = static_cast<double>(compute.nonfinite);
        state.SetLabel(cs.shape.name + " K=" + std::to_string(cs.resident) + " batch=" + std::to_string(cs.batch) +
                       " la4 " + bench::name(cs.mode) + " " + name(cs.how) + " " + bench::name(cs.src));
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
}

void add(pass_case_spec const& cs, int iterations) {
    std::string id = "pass/" + cs.shape.name + "/K:" + std::to_string(cs.resident) +
                     "/batch:" + std::to_string(cs.batch) + "/" + bench::name(cs.mode) + "/" + name(cs.how);
    if (cs.src != host_source::shared_pinned) id += std::string("/host:") + bench::name(cs.src);
    benchmark::RegisterBenchmark(id.c_str(), [cs](benchmark::State& st) { pass_case(st, cs); })
        ->UseManualTime()
        ->Iterations(iterations)
        ->Unit(benchmark::kMillisecond);
}

// Every mode and way of one cell.
void add_cell(stack_shape const& shape, std::size_t resident, std::size_t batch, int iterations) {
    for (auto mode : {pass_mode::b2b, pass_mode::loop})
        for (auto how : {way::eager, way::graph})
            add({shape, resident, batch, mode, how, host_source::shared_pinned}, iterations);
}

void register_all() {
    // Order matters: cases that share an offloader (same stack and K) run back
    // to back, and each stack's cases run together. An 8B pass takes 0.08 to
    // 0.28 s: 3 iterations of 4 passes keep the 48 cells within about 2 minutes.
    auto const big = bench::llama_8b();
    for (std::size_t k : {0, 4, 12, 20})
        for (std::size_t b : {1, 4096, 16384}) add_cell(big, k, b, 3);
    // The library's own pinned copies (copy_to_pinned, one block per layer) must be as fast.
    for (std::size_t b : {1, 4096})
        add({big, 0, b, pass_mode::b2b, way::eager, host_source::library_pinned}, 3);

    // Passes of 20 to 45 ms: more iterations for the same few seconds.
    add_cell(bench::stack_512(), 0, 1, 10);
    add_cell(bench::stack_1024(), 0, 1, 10);
}

}  // namespace

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv, register_all); }
