// offload-llama: greedy decoding of a LlamaForCausalLM checkpoint (config.json
// and safetensors, as transformers saves them), every decoder layer's weights
// through offload::layer_offloader. One pass over the whole prompt (prefill),
// then one pass per token. Prints one line of JSON: the run (generated ids,
// prefill and decode tokens/s) and the offloader's stats.
//
//   offload-llama --model DIR --prompt-ids 1,2,3 [--max-new-tokens 16 | --teacher-force 4,5,6]
//                 [--logits PATH] [--quiet] [offload options: --preset, --residency, --prefetch, ...]
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

#include "llama_config.hpp"
#include "llama_model.hpp"
#include "llama_npy.hpp"
#include "llama_policies.hpp"
#include "llama_run.hpp"

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
                             llama::cli::run_result const& r) {
    auto const& g = r.generation;
    boost::json::object run;
    run["model"] = o.model;
    run["backend"] = backend;
    run["device"] = r.device;
    run["layers"] = m.cfg.num_hidden_layers;
    run["weights_dtype"] = offload::dtype_name(m.layer_type);
    run["compute_dtype"] = r.compute_dtype;
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
#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
        auto const r = off.backend == "cuda" ? llama::cli::run_on_cuda(m, q) : llama::cli::run_on_host(m, q);
#else
        auto const r = llama::cli::run_on_host(m, q);
#endif
        if (o.logits)
            llama::write_npy(*o.logits, r.generation.logits, r.generation.logits.size() / m.cfg.vocab_size,
                             m.cfg.vocab_size);
        boost::json::object out;
        out["run"] = run_json(o, m, off.backend, r);
        out["stats"] = boost::json::value_from(r.stats);
        std::string const text = boost::json::serialize(out) + "\n";
        if (off.stats_json) ox::write_text_file(*off.stats_json, text);
        std::cout << text << std::flush;
        return 0;
    });
}
