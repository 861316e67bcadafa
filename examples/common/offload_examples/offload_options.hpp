#pragma once
// The offload options every example takes: --preset, --gpu-layers,
// --gpu-memory, one option per compiled policy list (--residency, --prefetch,
// --profiler, ...), --backend, --pin-memory, --host-memory, --stats-json,
// --trace, --summary-every. They produce an offload::config, the chosen
// policy names (for dispatch.hpp) and the backend.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <offload/config.hpp>

#include "backend_choice.hpp"
#include "command_line.hpp"
#include "errors.hpp"
#include "policy_lists.hpp"
#include "values.hpp"

namespace offload_examples {

struct offload_options {
    // Before parsing: the defaults (the config without --preset, its
    // summary_every, ...). After: what the command line asked for.
    offload::config cfg;
    policy_names policies;                  // defaults: the first of each list
    std::string backend = "auto";           // after parsing: "cuda" or "host"
    std::optional<std::string> stats_json;  // checked writable, not yet written
    std::optional<std::string> trace;       // checked writable, with --profiler events
    // The model's layer count, the upper bound of --gpu-layers: called by the
    // checks, once the example's own options are applied. Unset: no bound.
    std::function<std::size_t()> layer_count;
    std::string layer_count_name = "the model's layer count";  // as the allowed text says it
};

namespace detail {

// A policy list as the command line sees it: its option and the names of its types.
struct policy_row {
    policy_option option;
    std::vector<choice> choices;
};

template <class... Ts>
policy_row row_of(type_list<Ts...> list) {
    auto choice_of = [](std::vector<std::string> names) {
        return choice{names.front(), {names.begin() + 1, names.end()}};
    };
    policy_row r{option_of<decltype(list)>, {choice_of(cli_names<Ts>())...}};
    r.choices.front().note = "default";
    return r;
}

// The presets that --preset names, besides manual.
inline std::vector<std::pair<std::string, offload::config const*>> named_presets() {
    return {{"balanced", &offload::presets::balanced},
            {"aggressive", &offload::presets::aggressive},
            {"extreme", &offload::presets::extreme}};
}

// The values given, before the checks turn them into offload_options.
struct given_options {
    std::optional<std::string> preset, host_memory;
    std::optional<std::int64_t> gpu_layers;
    std::optional<std::size_t> gpu_memory, summary_every;
    std::optional<bool> pin_memory;
};

inline void add_offload_options(command_line& cli, offload_options& o, std::vector<policy_row> const& policy_rows,
                                std::string const& compiled_policies) {
    auto given = std::make_shared<given_options>();
    offload::config const base = o.cfg;
    auto layers_on_gpu = [](offload::config const& c) { return std::to_string(c.num_layers_on_gpu) + " layers on the GPU"; };

    std::vector<choice> presets;
    for (auto const& [name, cfg] : named_presets()) presets.push_back({name, {}, layers_on_gpu(*cfg)});
    presets.push_back({"manual", {}, "with --gpu-layers"});
    cli.add({"preset", "NAME", "how many layers stay on the GPU (default: " + base.preset + ", " + layers_on_gpu(base) + ")",
             one_of(std::move(presets), [given](std::string const& p) { given->preset = p; })});
    cli.add({"gpu-layers", "N", "layers kept on the GPU, with --preset manual",
             {"an integer from 0 to " + o.layer_count_name + ", with --preset manual",
              [given](std::string const& option, std::string const& text) {
                  given->gpu_layers = parse_count(option, text, {0, std::numeric_limits<std::int64_t>::max()});
              }}});
    option_value budget = bytes(given->gpu_memory, {1, std::int64_t{1} << 50});
    budget.allowed += ", with --residency budget";
    cli.add({"gpu-memory", "BYTES",
             "device bytes for resident layers and staging slots, with --residency budget (default: free device "
             "memory less 1 GiB)",
             std::move(budget)});
    for (auto const& r : policy_rows) {
        o.policies.*(r.option.chosen) = r.choices.front().name;
        cli.add({r.option.name, "POLICY", r.option.help,
                 one_of(r.choices, [&o, chosen = r.option.chosen](std::string const& n) { o.policies.*chosen = n; })});
    }
    cli.add({"backend", "NAME", "where the layers run: a CUDA GPU, or a device simulated on the CPU",
             one_of({{"auto", {}, "default: cuda if this build has CUDA and a GPU is usable, else host"},
                     {"cuda"},
                     {"host"}},
                    [&o, program = cli.program()](std::string const& b) {
                        if (b == "cuda" && !built_with_cuda)
                            throw usage_error{"--backend", "cuda: this " + program + " was built without CUDA",
                                              "allowed: auto, host"};
                        o.backend = b;
                    })});
    cli.add({"pin-memory", "on|off", "page-locked host memory for streamed layers (default " +
                                         std::string(base.pin_memory ? "on" : "off") + ")",
             one_of({{"on"}, {"off"}}, [given](std::string const& v) { given->pin_memory = v == "on"; })});
    cli.add({"host-memory", "MODE", "how streamed layers become page-locked",
             one_of({{"copy", {}, "default: into library-owned pinned memory"},
                     {"register", {}, "page-lock the weights in place; needs --pin-memory on"}},
                    [given](std::string const& v) { given->host_memory = v; })});
    cli.add({"stats-json", "PATH", "also write the JSON stats to PATH", writable_path(o.stats_json)});
    option_value trace = writable_path(o.trace);
    trace.allowed += ", with --profiler events";
    cli.add({"trace", "PATH", "write a Chrome/Perfetto trace of the passes to PATH (open it in ui.perfetto.dev)",
             std::move(trace)});
    cli.add({"summary-every", "N",
             "print a profiling summary to stderr every N passes (default " + std::to_string(base.summary_every) +
                 "; 0: never)",
             count(given->summary_every, {0, 1000000})});
    cli.note("Compiled backends: host" + std::string(built_with_cuda ? ", cuda" : "") +
             "; policies: " + compiled_policies + ".");

    cli.check([&cli, &o, given, base] {
        offload::config cfg = base;
        if (given->preset) {
            if (o.policies.residency == "budget")
                throw usage_error{"--preset",
                                  *given->preset + " sets a number of layers on the GPU, which --residency budget "
                                                   "does not use",
                                  "allowed: --gpu-memory BYTES with --residency budget, --preset with first_n or "
                                  "interleaved"};
            if (*given->preset == "manual") {
                if (!given->gpu_layers)
                    throw usage_error{"--preset", "manual needs --gpu-layers N", cli.allowed("--gpu-layers")};
                std::int64_t const n = *given->gpu_layers;
                if (o.layer_count && static_cast<std::uint64_t>(n) > o.layer_count())
                    throw usage_error{"--gpu-layers", std::to_string(n) + " is too large", ""};
                cfg.num_layers_on_gpu = static_cast<std::size_t>(n);
            } else {
                for (auto const& [name, preset] : named_presets())
                    if (name == *given->preset) cfg.num_layers_on_gpu = preset->num_layers_on_gpu;
            }
            cfg.preset = *given->preset;
        }
        if (given->gpu_layers && cfg.preset != "manual")
            throw usage_error{"--gpu-layers", "needs --preset manual", ""};
        if (given->gpu_memory) {
            if (o.policies.residency != "budget")
                throw usage_error{"--gpu-memory",
                                  "only --residency budget uses it (residency is " + o.policies.residency + ")", ""};
            cfg.gpu_memory_budget = *given->gpu_memory;
        }
        if (given->summary_every) cfg.summary_every = *given->summary_every;
        if (given->pin_memory) cfg.pin_memory = *given->pin_memory;
        if (given->host_memory) {
            bool const reg = *given->host_memory == "register";
            if (reg && !cfg.pin_memory)
                throw usage_error{"--host-memory", "register page-locks memory, which --pin-memory off turns off", ""};
            cfg.host_memory_mode = reg ? offload::host_memory::register_caller : offload::host_memory::copy_to_pinned;
        }
        if (o.trace && o.policies.profiler != "events")
            throw usage_error{"--trace", "a trace needs timings, and --profiler is " + o.policies.profiler, ""};
        if (o.backend == "cuda")
            if (auto const why = cuda_unavailable_reason(); !why.empty())
                throw environment_error{"--backend", "cuda: " + why, "use --backend host or --backend auto"};
        o.backend = resolve_backend(o.backend);
        o.cfg = cfg;
    });
}

}  // namespace detail

namespace detail {

// A choice of policies that no product of the union holds: a usage error that
// names the last option whose choice not every product holds (with an
// everything-without-a-codec product and a codecs-with-first_n product,
// "--codec int8 --residency budget" names --codec), and the kinds its choice
// is not compiled with.
inline usage_error not_compiled(compiled_table const& t, policy_names const& chosen, std::string const& compiled) {
    auto const name_of = [&](std::size_t k) -> std::string const& { return chosen.*(t.options[k].chosen); };
    std::size_t named = 0;
    for (std::size_t k = 0; k < t.options.size(); ++k)
        for (std::size_t p = 0; p < t.products.size(); ++p)
            if (!t.holds(p, k, name_of(k))) named = k;
    std::string with;  // the other choices that the first product holding this one lacks
    for (std::size_t p = 0; p < t.products.size() && with.empty(); ++p) {
        if (!t.holds(p, named, name_of(named))) continue;
        for (std::size_t k = 0; k < t.options.size(); ++k)
            if (k != named && !t.holds(p, k, name_of(k)))
                with += (with.empty() ? "" : ", ") + std::string("--") + t.options[k].name + " " + name_of(k);
    }
    return usage_error{"--" + std::string(t.options[named].name),
                       name_of(named) + " is not compiled with " + (with.empty() ? "these policies" : with),
                       "allowed: the compiled combinations: " + compiled};
}

}  // namespace detail

// Adds the offload options to cli, with one policy option per list of Lists
// (a policy_lists, or a policy_union: then every policy of its products is
// offered, and a combination that none of them holds is a usage error); o
// receives the values once cli has parsed. o must outlive the parsing.
template <class Lists>
void add_offload_options(command_line& cli, offload_options& o) {
    auto const rows = []<class... L>(policy_lists<L...>) { return std::vector<detail::policy_row>{detail::row_of(L{})...}; };
    detail::add_offload_options(cli, o, rows(offered_t<Lists>{}), describe(Lists{}));
    if constexpr (!std::is_same_v<Lists, offered_t<Lists>>)
        cli.check([&o, table = compiled_combinations(Lists{}), compiled = describe(Lists{})] {
            if (!table.compiled(o.policies)) throw detail::not_compiled(table, o.policies, compiled);
        });
}

}  // namespace offload_examples
