// offload-ffn --gpus (see tensor_parallel_cli.hpp).
#include "tensor_parallel_cli.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include <offload_examples/backend_choice.hpp>
#include <offload_examples/errors.hpp>
#include <offload_examples/output.hpp>
#include <offload_examples/values.hpp>

#include <offload_examples/tp/gpus_option.hpp>

#include "ffn_policies.hpp"

#if defined(OFFLOAD_EXAMPLES_WITH_NCCL)
#include <cmath>

#include <offload/multi/merged_summary.hpp>

#include "tensor_parallel.hpp"
#endif

namespace ffn::tp::cli {

namespace {

#if defined(OFFLOAD_EXAMPLES_WITH_NCCL)
boost::json::value finite_or_null(double v) {
    if (std::isfinite(v)) return v;
    return nullptr;
}

boost::json::object rank_json(rank_report const& r) {
    boost::json::object o = ox::tp::place_json(r.place);
    o["shard_layer_bytes"] = r.shard_layer_bytes;
    o["wall_ms"] = r.wall_ms;
    o["output_checksum"] = finite_or_null(r.checksum);
    return o;
}
#endif

}  // namespace

void add_gpus_option(ox::command_line& cli, int& gpus, ox::offload_options const& off, dims const& d) {
    ox::tp::add_gpus_option<ffn::cli::tensor_parallel_policies>(
        cli, gpus, off,
        {"GPUs of this host to split each layer over (tensor parallelism, one offloader per GPU; default 1)",
         "--gpus N > 1: gate and up split by rows and down by columns over GPUs 0..N-1, an NCCL all-reduce "
         "after each layer; needs NCCL at build time, --backend cuda, an --ffn that N divides, and --residency "
         "first_n or interleaved, --prefetch lookahead:4, --codec none. Prints the merged stats of the ranks "
         "(docs/multi-gpu.md)."},
        [&d](int gpus) {
            if (d.ffn % static_cast<std::size_t>(gpus) != 0)
                throw ox::usage_error{"--gpus", std::to_string(gpus) + " does not divide --ffn " + std::to_string(d.ffn),
                                      "allowed: a divisor of --ffn"};
        });
}

int run_main(run_options const& o, ox::offload_options const& off) {
#if defined(OFFLOAD_EXAMPLES_WITH_NCCL)
    if (o.graph || o.decode_loop)
        throw ox::usage_error{o.graph ? "--graph" : "--decode-loop", "runs on one GPU, and --gpus is " +
                                                                        std::to_string(o.gpus), "allowed: --gpus 1"};
    request q;
    q.d = o.d;
    q.layers = o.layers;
    q.passes = o.passes;
    q.warmup = o.warmup;
    q.seed = o.seed;
    q.policies = off.policies;
    q.cfg = off.cfg;
    q.gpus = o.gpus;
    q.inject = ox::tp::failure_from_environment(failure_variable, o.gpus);
    result const r = run(q);

    std::size_t layer_bytes = 0;
    for (auto b : layer_buffer_bytes(o.d)) layer_bytes += b;
    double const flops_per_pass = flops_per_layer(o.d) * static_cast<double>(o.layers);
    double const ms_per_pass = r.wall_ms / static_cast<double>(o.passes);
    boost::json::array ranks;
    for (auto const& rank : r.ranks) ranks.push_back(rank_json(rank));
    boost::json::object run{
        {"backend", "cuda"},
        {"gpus", o.gpus},
        {"tensor_parallel", "gate and up split by rows, down by columns, all-reduce (sum, bf16) after each layer"},
        {"device", r.ranks.front().place.device_name},
        {"dtype", "bfloat16"},
        {"layers", o.layers},
        {"hidden", o.d.hidden},
        {"ffn", o.d.ffn},
        {"ffn_per_gpu", o.d.ffn / static_cast<std::size_t>(o.gpus)},
        {"batch", o.d.batch},
        {"passes", o.passes},
        {"warmup", o.warmup},
        {"seed", o.seed},
        {"residency", off.policies.residency},
        {"prefetch", off.policies.prefetch},
        {"profiler", off.policies.profiler},
        {"codec", off.policies.codec},
        {"layer_bytes", layer_bytes},
        {"shard_layer_bytes", r.ranks.front().shard_layer_bytes},
        {"model_bytes", layer_bytes * o.layers},
        {"flops_per_pass", flops_per_pass},
        // The slowest rank's host clock around its timed passes, to the last one's end on its device.
        {"wall_ms", finite_or_null(r.wall_ms)},
        {"wall_ms_per_pass", finite_or_null(ms_per_pass)},
        {"tflops", finite_or_null(ms_per_pass > 0 ? flops_per_pass / (ms_per_pass * 1e9) : 0.0)},
        // Rank 0's; the all-reduce gives every rank the same activations.
        {"output_checksum", finite_or_null(r.ranks.front().checksum)},
        {"ranks", std::move(ranks)},
    };
    boost::json::object out;
    out["run"] = std::move(run);
    out["stats"] = boost::json::value_from(r.merged);
    std::string const text = boost::json::serialize(out) + '\n';
    if (o.json) {
        std::cout << text;
    } else {
        char line[160];
        std::snprintf(line, sizeof line, "offload-ffn: %d GPUs, %zu layers (hidden %zu, ffn %zu, %zu per GPU), batch %zu: "
                      "%.3f ms a pass\n", o.gpus, o.layers, o.d.hidden, o.d.ffn, o.d.ffn / static_cast<std::size_t>(o.gpus),
                      o.d.batch, ms_per_pass);
        std::cout << line;
        offload::multi::write_summary(std::cout, r.merged);
    }
    if (off.stats_json) ox::write_text_file(*off.stats_json, text);
    return std::cout.flush() ? 0 : 1;
#else
    (void)off;
    throw ox::usage_error{"--gpus", std::to_string(o.gpus) + ": " + ox::tp::gpus_unavailable_in_build, "allowed: 1"};
#endif
}

}  // namespace ffn::tp::cli
