// offload-llama: greedy decoding of a LlamaForCausalLM checkpoint (config.json
// and safetensors, as transformers saves them), every decoder layer's weights
// through offload::layer_offloader. One pass over the whole prompt (prefill),
// then one pass per token. Prints one line of JSON: the run (generated ids,
// prefill and decode tokens/s) and the offloader's stats.
//
//   offload-llama --model DIR --prompt-ids 1,2,3 [--max-new-tokens 16 | --teacher-force 4,5,6]
//                 [--logits PATH] [--quiet] [--gpus N] [offload options: --preset, --residency, --prefetch, ...]
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <offload_examples/cli.hpp>
#include <offload_examples/tp/gpus_option.hpp>

#include "llama_config.hpp"
#include "llama_model.hpp"
#include "llama_npy.hpp"
#include "llama_policies.hpp"
#include "llama_run.hpp"
#include "llama_tp_shard.hpp"

#if defined(OFFLOAD_EXAMPLES_WITH_NCCL)
#include "llama_tensor_parallel.hpp"
#endif

namespace ox = offload_examples;

namespace {

struct llama_options {
    std::string model;
    std::vector<std::int64_t> prompt;
    std::optional<std::size_t> max_new_tokens;
    std::vector<std::int64_t> teacher_force;
    bool quiet = false;
    std::optional<std::string> logits;
};

constexpr std::size_t default_new_tokens = 16;
constexpr ox::count_range token_id_range{0, std::numeric_limits<std::int32_t>::max()};

ox::option_value directory(std::string& out) {
    return {"a model directory: config.json and model.safetensors or model.safetensors.index.json",
            [&out](std::string const& option, std::string const& text) {
                if (text.empty()) throw ox::usage_error{option, "the path is empty", ""};
                out = text;
            }};
}

std::vector<std::int32_t> ids(std::vector<std::int64_t> const& v) { return {v.begin(), v.end()}; }

boost::json::object run_json(llama_options const& o, llama::checkpoint_model const& m, std::string const& backend,
                             llama::generation_result const& g, std::string const& device,
                             std::string const& compute_dtype) {
    boost::json::object run;
    run["model"] = o.model;
    run["backend"] = backend;
    run["device"] = device;
    run["layers"] = m.cfg.num_hidden_layers;
    run["weights_dtype"] = offload::dtype_name(m.layer_type);
    run["compute_dtype"] = compute_dtype;
    run["prompt_tokens"] = o.prompt.size();
    run["teacher_forced"] = !o.teacher_force.empty();
    run["generated"] = boost::json::value_from(g.generated);
    run["passes"] = 1 + g.decode_steps;
    run["prefill_ms"] = 1e3 * g.prefill_seconds;
    run["prefill_tokens_per_second"] = g.prefill_tokens_per_second(o.prompt.size());
    run["decode_steps"] = g.decode_steps;
    run["decode_ms"] = 1e3 * g.decode_seconds;
    if (g.decode_steps > 0) run["decode_tokens_per_second"] = g.decode_tokens_per_second();
    if (o.logits) run["logits"] = *o.logits;
    return run;
}

}  // namespace

int main(int argc, char** argv) {
    ox::command_line cli("offload-llama",
                         "offload-llama: greedy decoding of a LlamaForCausalLM checkpoint (config.json and safetensors "
                         "as transformers saves them),\nevery decoder layer's weights through offload::layer_offloader: "
                         "one pass over the prompt, then one pass per token.\nPrints one line of JSON on stdout: the run "
                         "(generated ids, prefill and decode tokens/s) and the offloader's stats.");
    llama_options o;
    cli.add({"model", "DIR", "the checkpoint to run (required)", directory(o.model)});
    cli.add({"prompt-ids", "IDS", "the prompt's token ids, e.g. 1,2,3 (required)", ox::int_list(o.prompt, token_id_range)});
    cli.add({"max-new-tokens", "N", "tokens to generate (default " + std::to_string(default_new_tokens) + ")",
             ox::count(o.max_new_tokens, {1, 100000})});
    cli.add({"teacher-force", "IDS",
             "after the prompt, feed these ids one a step instead of the argmax (with --logits: for comparing with "
             "transformers on a fixed sequence); the steps are as many as the ids",
             ox::int_list(o.teacher_force, token_id_range)});
    cli.add({"logits", "PATH",
             "write the logits of every prompt position and every decode step to PATH (float32 .npy, [positions x "
             "vocab])",
             ox::writable_path(o.logits)});
    cli.add({"quiet", "", "no load progress on stderr", ox::flag(o.quiet)});
    cli.check([&] {
        if (o.model.empty()) throw ox::usage_error{"--model", "missing: the model directory is required", ""};
        if (o.prompt.empty()) throw ox::usage_error{"--prompt-ids", "missing: the prompt is required", ""};
        if (!o.teacher_force.empty() && o.max_new_tokens)
            throw ox::usage_error{"--teacher-force", "sets the number of steps, so --max-new-tokens cannot", ""};
    });

    ox::offload_options off;
    off.cfg.summary_every = 10;  // one pass per token: a summary every 10 tokens
    // Bounds --gpu-layers; a config.json that cannot be read fails the run
    // (exit 1) rather than the command line.
    off.layer_count = [&o] {
        try {
            return llama::config::read(std::filesystem::path(o.model) / "config.json").num_hidden_layers;
        } catch (llama::config_error const&) {
            return std::numeric_limits<std::size_t>::max();
        }
    };
    off.layer_count_name = "the model's num_hidden_layers";
    ox::add_offload_options<llama::cli::policies>(cli, off);
    int gpus = 1;
    ox::tp::add_gpus_option<llama::cli::tensor_parallel_policies>(
        cli, gpus, off,
        {"GPUs of this host to split each decoder layer over (tensor parallelism, one offloader per GPU; default 1)",
         "--gpus N > 1: the attention heads and kv heads (q, k, v by rows, o by columns) and the MLP (gate and up by "
         "rows, down by columns) split over GPUs 0..N-1, an NCCL all-reduce after the o and down projections; "
         "needs NCCL at build time, --backend cuda, bf16 weights, heads, kv heads and intermediate_size that N "
         "divides, and --residency first_n or interleaved, --prefetch lookahead:4. Prints the merged stats of the "
         "ranks (docs/multi-gpu.md)."},
        [&o](int n) {
            try {
                llama::tp::rank_config(llama::config::read(std::filesystem::path(o.model) / "config.json"), n);
            } catch (llama::config_error const& e) {
                throw ox::usage_error{"--gpus", std::to_string(n) + ": " + e.what(),
                                      "allowed: a divisor of the model's heads, kv heads and intermediate_size"};
            }
        });

    return cli.run(argc, argv, [&] {
        auto const m = llama::checkpoint_model::open(o.model, {.quiet = o.quiet});
        llama::cli::run_request q;
        q.generation.prompt = ids(o.prompt);
        q.generation.teacher_force = ids(o.teacher_force);
        q.generation.new_tokens =
            o.teacher_force.empty() ? o.max_new_tokens.value_or(default_new_tokens) : o.teacher_force.size() + 1;
        q.generation.record_logits = o.logits.has_value();
        q.policies = off.policies;
        q.cfg = off.cfg;
        q.trace_path = off.trace;
        boost::json::object out;
        llama::generation_result generation;
        if (gpus > 1) {  // only where the build has NCCL: the --gpus check refuses N > 1 otherwise
#if defined(OFFLOAD_EXAMPLES_WITH_NCCL)
            auto r = llama::tp::run(m, {q.generation, q.policies, q.cfg, gpus,
                                        ox::tp::failure_from_environment(llama::tp::failure_variable, gpus)});
            auto run = run_json(o, m, off.backend, r.generation, r.ranks.front().place.device_name, "bfloat16");
            run["gpus"] = gpus;
            run["tensor_parallel"] = "heads and MLP split over the GPUs, all-reduce (sum, bf16) after o and down";
            boost::json::array ranks;
            for (auto const& rank : r.ranks) {
                auto j = ox::tp::place_json(rank.place);
                j["shard_layer_bytes"] = rank.shard_layer_bytes;
                j["prefill_ms"] = 1e3 * rank.generation.prefill_seconds;
                j["decode_ms"] = 1e3 * rank.generation.decode_seconds;
                ranks.push_back(std::move(j));
            }
            run["ranks"] = std::move(ranks);
            out["run"] = std::move(run);
            out["stats"] = boost::json::value_from(r.merged);
            generation = std::move(r.generation);
#endif
        } else {
#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
            auto r = off.backend == "cuda" ? llama::cli::run_on_cuda(m, q) : llama::cli::run_on_host(m, q);
#else
            auto r = llama::cli::run_on_host(m, q);
#endif
            out["run"] = run_json(o, m, off.backend, r.generation, r.device, r.compute_dtype);
            out["stats"] = boost::json::value_from(r.stats);
            generation = std::move(r.generation);
        }
        if (o.logits)
            llama::write_npy(*o.logits, generation.logits, generation.logits.size() / m.cfg.vocab_size,
                             m.cfg.vocab_size);
        std::string const text = boost::json::serialize(out) + "\n";
        if (off.stats_json) ox::write_text_file(*off.stats_json, text);
        std::cout << text << std::flush;
        return 0;
    });
}
