#pragma once
// What offload-llama's decode loop asks of an engine, whatever runs the math
// (host_engine in llama_host.hpp, cuda_engine in llama_cuda.hpp), and the
// layout of a decoder layer as the offloader hands it over.
//
// One forward step over the step's tokens (the whole prompt, then one token):
//   engine.begin(tokens, position);
//   for (auto layer : offloader.pass()) engine.layer(layer.index(), llama::layer_weights(layer));
//   engine.finish(&logits or nullptr);
//   next = engine.next_token();
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <offload/source/safetensors.hpp>

#include "llama_config.hpp"

namespace llama {

// The 9 buffers of a decoder layer, in this order in the offloader's model.
enum layer_buffer : std::size_t {
    input_layernorm,
    q_proj,
    k_proj,
    v_proj,
    o_proj,
    post_attention_layernorm,
    gate_proj,
    up_proj,
    down_proj,
    layer_buffer_count
};

using layer_pointers = std::array<void const*, layer_buffer_count>;

// The tensors of "model.layers.{i}." in layer_buffer order, with their shapes
// ([out, in] for projections, as nn.Linear stores them). Norm weights stay
// exact under any transfer codec.
inline std::vector<offload::safetensors::expected_tensor> layer_tensors(config const& c) {
    std::size_t const h = c.hidden_size, q = c.q_size(), kv = c.kv_size(), f = c.intermediate_size;
    return {
        {"input_layernorm.weight", {h}, false},
        {"self_attn.q_proj.weight", {q, h}, true},
        {"self_attn.k_proj.weight", {kv, h}, true},
        {"self_attn.v_proj.weight", {kv, h}, true},
        {"self_attn.o_proj.weight", {h, q}, true},
        {"post_attention_layernorm.weight", {h}, false},
        {"mlp.gate_proj.weight", {f, h}, true},
        {"mlp.up_proj.weight", {f, h}, true},
        {"mlp.down_proj.weight", {h, f}, true},
    };
}

// The names of the tensors outside the layers that an engine reads.
inline constexpr char const* embed_tokens_name = "model.embed_tokens.weight";
inline constexpr char const* final_norm_name = "model.norm.weight";
inline constexpr char const* lm_head_name = "lm_head.weight";

// A layer_view's buffers as the pointer array engine.layer takes.
template <class LayerView>
layer_pointers layer_weights(LayerView const& layer) {
    layer_pointers w{};
    for (std::size_t b = 0; b < layer_buffer_count; ++b) w[b] = layer.buffer(b);
    return w;
}

// An engine holds the activations and the KV cache of one sequence and the
// tensors outside the layers. begin embeds the step's tokens at positions
// start_position...; layer(i, w) runs decoder layer i on them and appends their
// keys and values to layer i's cache; finish applies the final norm and the
// lm_head (the logits of every token of the step, [tokens x vocab], when
// all_logits is given, else only what next_token needs); next_token is the
// greedy argmax of the step's last token.
template <class E>
concept engine = requires(E& e, std::span<std::int32_t const> tokens, std::size_t position, layer_pointers const& w,
                          std::vector<float>* all_logits) {
    e.begin(tokens, position);
    e.layer(position, w);
    e.finish(all_logits);
    { e.next_token() } -> std::same_as<std::int32_t>;
};

}  // namespace llama
