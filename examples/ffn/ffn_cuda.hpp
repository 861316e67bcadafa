#pragma once
// The example's transformer FFN stack on the GPU: bf16 weights, cuBLAS GEMMs
// with fp32 accumulation, and three small kernels of its own (RMSNorm, fused
// SiLU(gate) * up, and the residual add, folded into the down GEMM). This
// header compiles with a host compiler against the CUDA runtime; the device
// code lives in ffn_cuda.cu (CMake target offload_ffn_cuda).
//
// One layer, for activations x [batch][hidden] (bf16):
//   h = rmsnorm(x) * norm_w                   (fp32 sum of squares, eps 1e-6)
//   x = x + down( silu(h gate^T) * (h up^T) )  (weights row-major [out][in])
#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>

#include "ffn_dims.hpp"

struct cublasContext;  // cublasHandle_t is cublasContext*; no cuBLAS header needed here

namespace ffn {

// dims, layer_buffer_elements, layer_buffer_bytes (bf16) and flops_per_layer
// come from ffn_dims.hpp.

// Deterministic weights for layer `layer` as bf16 bit patterns, one vector per
// buffer (layer_buffer_bytes order): uniform with the variance of
// randn / sqrt(fan_in), the norm weight 1 +- 0.1. The same values, as floats,
// as make_layer_weights_f32 in ffn_host.hpp. Host code; about 0.3 s a
// Llama-8B layer on one core.
std::vector<std::vector<std::uint16_t>> make_layer_weights(dims const& d, std::uint64_t seed, std::size_t layer);

// Fills caller-provided memory instead (out[b] holds layer_buffer_elements(d)[b] elements).
void fill_layer_weights(dims const& d, std::uint64_t seed, std::size_t layer, std::uint16_t* const out[4]);

// Activations and workspaces of one stack, and a cuBLAS handle bound to one
// stream. Every call enqueues on that stream and returns without waiting,
// except output(). Errors throw offload::backend_error (file, line, the CUDA
// or cuBLAS error name, what was being done); a bad shape throws
// offload::configuration_error. Not copyable or movable.
class cuda_stack {
public:
    // cublasCreate + cublasSetStream + a fixed cuBLAS workspace (so that the
    // GEMM algorithms, and the bits, do not depend on the stream), then
    // allocates x [batch][hidden], h [batch][hidden], gate, up and act
    // [batch][ffn], all bf16. Uses the current device.
    cuda_stack(dims const& d, cudaStream_t stream);
    ~cuda_stack();  // never throws
    cuda_stack(cuda_stack const&) = delete;
    cuda_stack& operator=(cuda_stack const&) = delete;

    // x = deterministic values of unit variance (a function of seed only), on the stream.
    void set_input(std::uint64_t seed);
    // x = the given bf16 bits ([batch][hidden], row-major); copies on the stream
    // and waits for the copy (the host vector may go away afterwards).
    void set_input(std::vector<std::uint16_t> const& x);

    // One layer on the stream. Device pointers to bf16 data, in buffer order
    // (a layer_view's buffer(0..3)); they must stay valid until the stream has
    // run the layer, which the offloader guarantees for a view's buffers.
    void layer(void const* norm_w, void const* gate, void const* up, void const* down);

    // Tensor parallelism: the layer's update without the residual add,
    // out = down(silu(h gate^T) * (h up^T)) into out [batch][hidden] (bf16,
    // device). With one shard's weights (this stack's ffn = the shard's rows of
    // gate and up, and columns of down), out is the partial sum that an
    // all-reduce over the shards completes; add_to_activations then does the
    // residual add, x += update (fp32 add, one rounding).
    void layer_update(void const* norm_w, void const* gate, void const* up, void const* down, void* out);
    void add_to_activations(void const* update);

    // Waits for the stream, then copies x to the host (bf16 bits, [batch][hidden]).
    std::vector<std::uint16_t> output();
    // Waits for the stream; the sum of x as double (the CLI's output_checksum).
    double checksum();

    double flops_per_layer() const;  // 2 * batch * hidden * ffn * 3
    cudaStream_t stream() const noexcept { return stream_; }
    dims const& shape() const noexcept { return d_; }
    // Device pointer to x [batch][hidden] bf16 (valid for the stack's lifetime).
    void* activations() const noexcept { return x_; }

private:
    void release() noexcept;
    // act = silu(rmsnorm(x) gate^T) * (rmsnorm(x) up^T), into act_.
    void activation(void const* norm_w, void const* gate, void const* up);
    // out = act down^T + beta * out.
    void down_projection(void const* down, void* out, float beta, char const* what);

    dims d_;
    cudaStream_t stream_ = nullptr;
    cublasContext* handle_ = nullptr;
    void* workspace_ = nullptr;
    std::size_t workspace_bytes_ = 0;
    void* x_ = nullptr;
    void* h_ = nullptr;
    void* gate_ = nullptr;
    void* up_ = nullptr;
    void* act_ = nullptr;
};

}  // namespace ffn
