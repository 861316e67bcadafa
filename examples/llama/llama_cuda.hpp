#pragma once
// The Llama decoder on the GPU: bf16 weights and activations, cuBLAS GEMMs
// with fp32 accumulation, and a few kernels of its own (embedding gather,
// residual add fused into RMSNorm, RoPE fused with the KV-cache append,
// attention over the cache, SwiGLU, argmax). This header compiles with a host
// compiler against the CUDA runtime; the device code lives in llama_cuda.cu
// (CMake target offload_llama_cuda).
//
// The rounding follows transformers' LlamaForCausalLM in bf16: RMSNorm in fp32,
// cast to bf16, then times the bf16 weight; cos and sin cast to bf16 before
// rotate_half; each residual add and silu(gate) * up rounded to bf16 as torch
// does. Attention runs in fp32 from bf16 q, k and v (as SDPA's fused kernels
// do) and writes bf16; the logits stay fp32 from the lm_head GEMM.
//
// Tensor parallelism (llama_tensor_parallel.hpp): built with a rank's share
// of the heads and of the MLP (llama_tp_shard.hpp's rank_config) and a
// `sum_partials`, the engine computes that share of each attention and MLP,
// whose o and down projections give partial sums of the sublayer's output;
// sum_partials(values, count) must add the ranks' partials in place (an
// all-reduce enqueued on the stream) before the residual add reads them.
//
// Everything enqueues on the one stream given at construction (the
// offloader's compute stream) and returns without waiting for the device,
// except finish() with all_logits and next_token(), which copy results back.
// Errors throw offload::backend_error (file, line, the CUDA or cuBLAS error
// name, what was being done), offload::out_of_memory, or
// offload::configuration_error for a shape, a tensor or a call out of order.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include <offload/source/safetensors.hpp>

#include "llama_config.hpp"
#include "llama_engine.hpp"

struct cublasContext;  // cublasHandle_t is cublasContext*; no cuBLAS header needed here

namespace llama {

class cuda_engine {
public:
    // bf16 values on the device, in place, enqueued on the engine's stream.
    using partial_sums = std::function<void(void* values, std::size_t count)>;

    // Copies embed_tokens, the final norm and lm_head (embed_tokens when
    // tie_word_embeddings) from `outside` to the device (bf16, shapes as
    // transformers saves them), and allocates activations for max_tokens tokens
    // a step and a KV cache of max_tokens positions a layer (max_tokens from 1
    // to 65535; head_dim even, at most 128). Uses the current device; waits for
    // its own copies before returning. sum_partials: for a tensor-parallel
    // rank (see above); empty for the whole model.
    cuda_engine(config const& c, std::map<std::string, offload::safetensors::tensor_view> const& outside,
                std::size_t max_tokens, cudaStream_t stream, partial_sums sum_partials = {});
    ~cuda_engine();  // waits for the stream, frees everything; never throws
    cuda_engine(cuda_engine const&) = delete;
    cuda_engine& operator=(cuda_engine const&) = delete;

    // Embeds the step's tokens at positions start_position.. (at most the
    // positions already cached: the step's keys and values are appended there).
    void begin(std::span<std::int32_t const> tokens, std::size_t start_position);
    // Decoder layer i (in order 0, 1, ...) on the step's tokens. w: device
    // pointers to the layer's bf16 tensors in layer_buffer order, valid on the
    // stream until it has run the layer (as a layer_view's buffers are).
    void layer(std::size_t i, layer_pointers const& w);
    // Final norm and lm_head. With all_logits: every token's logits, [tokens x
    // vocab] fp32, copied back (waits for the stream); without: only the last
    // token's, left on the device for next_token.
    void finish(std::vector<float>* all_logits);
    // Greedy argmax of the last token's logits (the first index on ties, as
    // torch.argmax), computed on the device; waits for that one int.
    std::int32_t next_token();

    cudaStream_t stream() const noexcept { return stream_; }
    // Device bytes this engine holds (weights outside the layers, activations,
    // KV cache, cuBLAS workspace).
    std::size_t device_bytes() const noexcept { return device_bytes_; }

private:
    static constexpr std::size_t no_layer = static_cast<std::size_t>(-1);

    void* allocate(std::size_t bytes, char const* what);
    // output[rows][out] = input[rows][in] weight^T; `what` (in `layer`, unless no_layer) names it in errors.
    void gemm(void const* weight, std::size_t out_features, std::size_t in_features, void const* input,
              std::size_t input_stride, void* output, std::size_t output_stride, std::size_t rows, bool fp32_output,
              std::size_t layer, char const* what);
    void release() noexcept;

    config c_;
    std::size_t max_tokens_;
    cudaStream_t stream_;
    partial_sums sum_partials_;
    cublasContext* handle_ = nullptr;
    std::vector<void*> allocations_;
    std::size_t device_bytes_ = 0;

    // Tensors outside the layers; lm_head_ aliases embed_tokens_ when tied.
    void* embed_tokens_ = nullptr;
    void* final_norm_ = nullptr;
    void* lm_head_ = nullptr;
    float* inv_freq_ = nullptr;  // [head_dim / 2], from rope_theta and the llama3 scaling

    // Activations of one step, bf16 unless said otherwise, row-major [max_tokens][...].
    void* x_ = nullptr;         // the residual stream [hidden]
    void* delta_ = nullptr;     // a sublayer's output, not yet added to x_ [hidden]
    void* normed_ = nullptr;    // RMSNorm of x_ [hidden]
    void* qkv_ = nullptr;       // q, k, v of each token side by side [q_size + 2 kv_size]
    void* attn_ = nullptr;      // attention output [q_size]
    void* gate_up_ = nullptr;   // gate and up side by side [2 intermediate]
    void* act_ = nullptr;       // silu(gate) * up [intermediate]
    float* logits_ = nullptr;   // fp32 [vocab]
    void* kv_cache_ = nullptr;  // [layer][k, v][kv head][position][head_dim]
    std::int32_t* device_tokens_ = nullptr;
    std::int32_t* device_argmax_ = nullptr;
    void* workspace_ = nullptr;

    // Page-locked staging of the step's tokens and of the argmax, so that the
    // copies are asynchronous; tokens_copied_ says when the staging may be reused.
    std::int32_t* host_tokens_ = nullptr;
    std::int32_t* host_argmax_ = nullptr;
    cudaEvent_t tokens_copied_ = nullptr;

    // The step in progress: its tokens, first position and next layer.
    std::size_t step_tokens_ = 0;
    std::size_t step_start_ = 0;
    std::size_t next_layer_ = 0;
    bool in_step_ = false;
    bool delta_pending_ = false;        // delta_ is still to be added to x_
    std::size_t cached_positions_ = 0;  // positions whose keys and values every layer holds
    std::size_t logits_row_ = 0;        // the row of logits_ that holds the last token's
    bool logits_ready_ = false;
};

static_assert(engine<cuda_engine>);

}  // namespace llama
