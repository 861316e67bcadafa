#pragma once
// offload-llama's run step, split from the command line so that each
// backend's policy instantiations compile in their own translation unit
// (llama_run_host.cpp, llama_run_cuda.cpp).
#include <cstddef>
#include <optional>
#include <string>

#include <offload/config.hpp>
#include <offload/stats.hpp>

#include <offload_examples/policy_lists.hpp>

#include "llama_generate.hpp"
#include "llama_model.hpp"

namespace llama::cli {

struct run_request {
    generation_request generation;
    offload_examples::policy_names policies;  // of llama_policies.hpp's lists
    offload::config cfg;
    std::optional<std::string> trace_path;  // a Chrome/Perfetto trace, with profile::events
};

struct run_result {
    generation_result generation;
    offload::stats stats;
    std::string device;         // the GPU's name, or "cpu"
    std::string compute_dtype;  // of the engine's activations: "float32" (host) or "bfloat16" (cuda)
};

// Greedy decoding of r.generation through a layer_offloader with the chosen
// policies over m's layers. Throws offload::configuration_error for a policy
// combination that is not compiled in, and whatever the library and the
// engine throw.
run_result run_on_host(checkpoint_model const& m, run_request const& r);
#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
run_result run_on_cuda(checkpoint_model const& m, run_request const& r);
#endif

}  // namespace llama::cli
