// Pass time of the cuBLAS FFN stack through layer_offloader, over the floor
// max(streamed bytes / pinned H2D bandwidth, all-resident compute time) measured
// in the same process (DESIGN.md, "Performance model").
//
// Stacks: the Llama-3-8B-shaped 32 x 352 MB stack (first K layers resident,
// K in {0, 4, 12, 20}; batch 1, 4096, 16384; prefetch none, lookahead<1>, <2>, <8>,
// <4>), 256 x 17 MB layers (batch 1, 4096) and 512 x 4.3 MB layers (batch 1),
// both with K = 0. Names: pass/<stack>/K:<k>/batch:<b>/prefetch:<none|laN>
// [/host:library_pinned]; select with --benchmark_filter.
//
// Each case: one warm-up pass, then a fixed number of passes, each timed with
// CUDA events on the compute stream (UseManualTime); counters give the median.
// profile::none throughout: nothing is timed inside a pass.
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
#include <offload/prefetch/none.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/first_n.hpp>

#include "common.hpp"

namespace {

using bench::host_source;
using bench::stack_shape;

template <class Prefetch>
using offloader_t =
    offload::layer_offloader<offload::backend::cuda, offload::residency::first_n, Prefetch, offload::profile::none>;

template <class Prefetch>
void pass_case(benchmark::State& state, stack_shape const& shape, std::size_t resident, std::size_t batch,
               host_source src) {
    try {
        auto& c = bench::ctx();
        auto& stack = c.stack(shape);
        std::string const key = shape.name + "/K:" + std::to_string(resident) + "/" + bench::prefetch_tag<Prefetch>() +
                                "/" + bench::name(src);
        auto& off = c.offloader<offloader_t<Prefetch>>(key, key, [&] {
            return std::make_shared<offloader_t<Prefetch>>(stack.model(), bench::make_config(resident, src),
                                                           c.backend_options());
        });
        auto& fs = c.ffn_stack(batch);
        auto const floor = c.floor(resident, batch);
        auto const& compute = c.compute(batch);

        fs.set_input(bench::input_seed);
        bench::ffn_pass(off, fs);  // warm-up
        auto const out = fs.output();
        bool const identical = bench::fnv1a(out) == compute.output_hash;

        bench::event_timer t;
        std::vector<double> ms, host_ms;
        for (auto _ : state) state.SetIterationTime(bench::timed_pass(off, fs, t, ms, host_ms) / 1e3);

        double const med = bench::median(ms);
        auto& k = state.counters;
        k["ms"] = med;
        k["min_ms"] = *std::min_element(ms.begin(), ms.end());
        k["floor_ms"] = floor.floor_ms;
        k["ratio"] = med / floor.floor_ms;
        k["transfer_ms"] = floor.transfer_ms;
        k["compute_ms"] = floor.compute_ms;
        k["GBps"] = med > 0 ? static_cast<double>(floor.streamed_bytes) / (med * 1e6) : 0;
        k["h2d_GBps"] = c.h2d_pinned_gbps();
        k["host_ms"] = bench::median(host_ms);
        k["K"] = static_cast<double>(resident);
        k["batch"] = static_cast<double>(batch);
        k["layers"] = static_cast<double>(shape.layers);
        k["slots"] = static_cast<double>(off.staging_slots());
        k["bit_identical"] = identical ? 1 : 0;
        k["nonfinite"] = static_cast<double>(compute.nonfinite);
        state.SetLabel(shape.name + " K=" + std::to_string(resident) + " batch=" + std::to_string(batch) + " " +
                       bench::prefetch_tag<Prefetch>() + " " + bench::name(src));
    } catch (std::exception const& e) {
        state.SkipWithError(e.what());
    }
}

struct prefetch_entry {
    char const* tag;
    void (*fn)(benchmark::State&, stack_shape const&, std::size_t, std::size_t, host_source);
};
prefetch_entry const prefetches[] = {
    {"none", &pass_case<offload::prefetch::none>},
    {"la1", &pass_case<offload::prefetch::lookahead<1>>},
    {"la2", &pass_case<offload::prefetch::lookahead<2>>},
    {"la4", &pass_case<offload::prefetch::lookahead<4>>},
    // Enough ring to keep the copy engine busy through 20 resident layers' compute.
    {"la8", &pass_case<offload::prefetch::lookahead<8>>},
};

void add(stack_shape const& shape, std::size_t resident, std::size_t batch, prefetch_entry const& p,
         host_source src, int iterations) {
    std::string name = "pass/" + shape.name + "/K:" + std::to_string(resident) + "/batch:" + std::to_string(batch) +
                       "/prefetch:" + p.tag;
    if (src != host_source::shared_pinned) name += std::string("/host:") + bench::name(src);
    auto* fn = p.fn;
    benchmark::RegisterBenchmark(name.c_str(),
                                 [=](benchmark::State& st) { fn(st, shape, resident, batch, src); })
        ->UseManualTime()
        ->Iterations(iterations)
        ->Unit(benchmark::kMillisecond);
}

void register_all() {
    // Order matters: cases that share an offloader (same stack, K, prefetch)
    // run back to back, and each stack's cases run together.
    auto const big = bench::llama_8b();
    for (std::size_t k : {0, 4, 12, 20})
        for (auto const& p : prefetches)
            for (std::size_t b : {1, 4096, 16384}) add(big, k, b, p, host_source::shared_pinned, 3);
    // The library's own pinned copies (copy_to_pinned, one block per layer) must be as fast.
    for (std::size_t b : {1, 4096}) add(big, 0, b, prefetches[3], host_source::library_pinned, 3);

    auto const s256 = bench::stack_256();
    for (auto const& p : prefetches)
        for (std::size_t b : {1, 4096}) add(s256, 0, b, p, host_source::shared_pinned, 9);

    auto const s512 = bench::stack_512();
    for (auto const& p : prefetches) add(s512, 0, 1, p, host_source::shared_pinned, 9);
}

}  // namespace

int main(int argc, char** argv) { return bench::run_benchmarks(argc, argv, register_all); }
