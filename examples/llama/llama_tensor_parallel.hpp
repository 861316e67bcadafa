#pragma once
// offload-llama --gpus N: the decoder layers split Megatron-style over N GPUs
// of one host (llama_tp_shard.hpp), one offload::layer_offloader per GPU
// streaming only its shard, a cuda_engine per rank computing its heads and its
// share of the MLP, and an NCCL all-reduce (sum, bf16) of the o and down
// projections' partial outputs on the offloader's compute stream. The
// embeddings, the final norm and the lm_head are whole on every rank, so every
// rank computes the same logits and greedy tokens.
//
// The ranks are offload_examples/tp/ranks.hpp's: one host thread per GPU in
// one process, a rank that fails stops the others, and run() throws one
// rank_failure naming it. Needs NCCL (the target offload_llama_tp).
#include <optional>
#include <string>
#include <vector>

#include <offload/config.hpp>
#include <offload/multi/merged_stats.hpp>
#include <offload/stats.hpp>

#include <offload_examples/policy_lists.hpp>
#include <offload_examples/tp/ranks.hpp>

#include "llama_generate.hpp"
#include "llama_model.hpp"
#include "llama_policies.hpp"

namespace llama::tp {

namespace ox = offload_examples;

// The policies compiled for N > 1.
using policies = ::llama::cli::tensor_parallel_policies;

// A test hook: make one rank fail on purpose; pass 0 is the prefill, pass k
// the k-th decode step (offload-llama reads it from this environment variable).
using ox::tp::injected_failure;
inline constexpr char const* failure_variable = "OFFLOAD_LLAMA_TP_FAIL";

struct request {
    generation_request generation;
    ox::policy_names policies;  // of `policies` above
    offload::config cfg;        // each rank's (summary_every is ignored: the ranks would share one stderr)
    int gpus = 2;               // devices 0 .. gpus-1, rank r on device r
    std::optional<injected_failure> inject;
};

struct rank_report {
    ox::tp::rank_place place;
    std::size_t shard_layer_bytes = 0;  // payload bytes of one layer's shard
    generation_result generation;       // this rank's tokens, logits and clock
    offload::stats stats;
};

struct result {
    std::vector<rank_report> ranks;
    offload::multi::merged_stats merged;
    // Rank 0's tokens and logits, with the slowest rank's prefill and decode times.
    generation_result generation;
};

using ox::tp::rank_failure;

// Leaves the caller's current device as it was. Throws rank_failure,
// offload::configuration_error for a request that cannot run (fewer devices
// than gpus), config_error for a model that does not split, and
// std::runtime_error if the ranks' greedy tokens differ (the all-reduce gives
// every rank the same activations, so that would be a bug).
result run(checkpoint_model const& m, request const& q);

}  // namespace llama::tp
