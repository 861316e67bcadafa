#pragma once
// offload-ffn --gpus N: the FFN stack split Megatron-style over N GPUs of one
// host (tp_shard.hpp), one offload::layer_offloader per GPU streaming only its
// shard, and after each layer's partial down projection an NCCL all-reduce
// (sum, bf16) on the offloader's compute stream, then the residual add.
//
// One host thread per GPU, in one process (docs/multi-gpu.md says why;
// offload_examples/tp/ranks.hpp): each binds itself to its GPU's NUMA node,
// makes its shard there, builds its offloader and stack, joins the
// communicator and runs the passes. A rank that fails stops the others; run()
// then throws one tp::rank_failure naming it. Needs NCCL (the target
// offload_ffn_tp, built where CMake found it).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <offload/config.hpp>
#include <offload/multi/merged_stats.hpp>
#include <offload/stats.hpp>

#include <offload_examples/policy_lists.hpp>
#include <offload_examples/tp/ranks.hpp>

#include "ffn_dims.hpp"
#include "ffn_policies.hpp"

namespace ffn::tp {

namespace ox = offload_examples;

// The policies compiled for N > 1.
using policies = ::ffn::cli::tensor_parallel_policies;

// A test hook: make one rank fail on purpose (offload-ffn reads it from the
// environment variable OFFLOAD_FFN_TP_FAIL, see tensor_parallel_cli.hpp).
using ox::tp::injected_failure;
inline constexpr char const* failure_variable = "OFFLOAD_FFN_TP_FAIL";

struct request {
    dims d;  // the whole model's shape; d.ffn must split into gpus equal shards
    std::size_t layers = 32;
    std::size_t passes = 10;
    std::size_t warmup = 0;
    std::uint64_t seed = 1;
    ox::policy_names policies;  // of `policies` above
    offload::config cfg;        // each rank's (summary_every is ignored: see tensor_parallel_cli.hpp)
    int gpus = 2;               // devices 0 .. gpus-1, rank r on device r
    std::optional<injected_failure> inject;
    bool keep_output = false;   // return each rank's final activations
};

struct rank_report {
    ox::tp::rank_place place;
    std::size_t shard_layer_bytes = 0;    // payload bytes of one layer's shard
    double wall_ms = 0;                   // host clock around the timed passes, to the last one's end
    double checksum = 0;                  // sum of the final activations
    std::vector<std::uint16_t> output;    // x [batch][hidden] bf16 bits, with keep_output
    offload::stats stats;
};

struct result {
    std::vector<rank_report> ranks;
    offload::multi::merged_stats merged;
    double wall_ms = 0;  // the slowest rank's
};

using ox::tp::rank_failure;

// Leaves the caller's current device as it was. Throws rank_failure,
// offload::configuration_error for a request that cannot run (fewer devices
// than gpus, an ffn that does not split), or what the NCCL id costs.
result run(request const& q);

}  // namespace ffn::tp
