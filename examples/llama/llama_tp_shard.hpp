#pragma once
// One rank's shard of a Llama checkpoint's decoder layers, Megatron-style
// over `ranks` GPUs: the rank holds heads [r H/N, (r+1) H/N) and kv heads
// [r K/N, (r+1) K/N) (rows of q_proj, k_proj and v_proj, the same columns of
// o_proj) and the same share of the MLP's intermediate (rows of gate_proj and
// up_proj, columns of down_proj); the norm weights whole. The o and down
// projections then give partial sums of each sublayer's output, which the
// ranks add (llama_tensor_parallel.hpp). A q head keeps its kv head: rank r's
// q heads are those that read its kv heads.
//
// Host code: copies out of the checkpoint's mappings into page-aligned blocks,
// first touched by the calling thread (on its NUMA node).
#include <cstddef>
#include <vector>

#include <offload/model.hpp>

#include <offload_examples/tp/host_pages.hpp>

#include "llama_config.hpp"
#include "llama_model.hpp"

namespace llama::tp {

// The shape one rank computes: the full config with num_attention_heads,
// num_key_value_heads and intermediate_size divided by ranks. Throws
// config_error naming the first of them that ranks does not divide.
config rank_config(config const& full, int ranks);

struct shard {
    config local;  // rank_config
    std::vector<std::vector<offload_examples::tp::page_block>> blocks;  // [layer][layer_buffer]
    std::vector<std::size_t> bytes;                                     // per layer_buffer
    std::size_t layer_bytes() const;
};

// Throws config_error as rank_config does.
shard make_shard(checkpoint_model const& m, int rank, int ranks);

// The shard's buffers as a model for layer_offloader, each with its
// tensor_info (norm weights kept exact under a codec, as in the whole model).
offload::model describe(shard const& s, offload::dtype type, int rank);

}  // namespace llama::tp
