// The Llama decoder on the GPU (see llama_cuda.hpp).
#include "llama_cuda.hpp"

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <offload/detail/cuda_check.hpp>
#include <offload/errors.hpp>

#include "llama_rope.hpp"

// cuBLAS calls, as OFFLOAD_CUDA_TRY does for the runtime: file, line, status name and text, what was being done.
#define LLAMA_CUBLAS_TRY(call, operation)                                                          \
    do {                                                                                           \
        cublasStatus_t const llama_status_ = (call);                                               \
        if (llama_status_ != CUBLAS_STATUS_SUCCESS)                                                \
            throw ::offload::backend_error(__FILE__, __LINE__, cublasGetStatusName(llama_status_), \
                                           cublasGetStatusString(llama_status_), (operation));     \
    } while (false)

// A kernel launch: configuration errors show at once, faults at the next synchronising call.
#define LLAMA_LAUNCH_CHECK(operation) OFFLOAD_CUDA_TRY(cudaGetLastError(), (operation))

namespace llama {

namespace {

using bf16 = __nv_bfloat16;

__device__ __forceinline__ float to_float(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ bf16 to_bf16(float v) { return __float2bfloat16_rn(v); }
// A bf16 operation of torch: computed in fp32, rounded to bf16.
__device__ __forceinline__ float round_bf16(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

constexpr int row_threads = 256;
constexpr int elementwise_threads = 256;
constexpr int attention_warps = 8;
constexpr int max_head_dim = 128;
constexpr int head_dims_per_lane = max_head_dim / 32;
constexpr int argmax_threads = 1024;
constexpr std::size_t max_step_tokens = 65535;

// x[t] = embed_tokens[tokens[t]], one block per token.
__global__ void embed_kernel(std::int32_t const* __restrict__ tokens, bf16 const* __restrict__ table,
                             bf16* __restrict__ x, std::size_t hidden) {
    std::size_t const t = blockIdx.x;
    bf16 const* row = table + static_cast<std::size_t>(tokens[t]) * hidden;
    for (std::size_t i = threadIdx.x; i < hidden; i += blockDim.x) x[t * hidden + i] = row[i];
}

// One block per row: x = x + delta (rounded to bf16, as transformers' residual
// add; skipped when delta is null), then out = w * bf16(x * rsqrt(mean(x^2) +
// eps)) with the mean in fp32. The sum is reduced in a fixed order (shuffles,
// then one warp): the same input gives the same bits.
__global__ void add_rmsnorm_kernel(bf16* __restrict__ x, bf16 const* __restrict__ delta, bf16 const* __restrict__ w,
                                   bf16* __restrict__ out, std::size_t hidden, float eps) {
    std::size_t const row = blockIdx.x;
    bf16* xr = x + row * hidden;
    bf16* outr = out + row * hidden;
    float sum = 0.0f;
    for (std::size_t i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = to_float(xr[i]);
        if (delta != nullptr) {
            v = round_bf16(v + to_float(delta[row * hidden + i]));
            xr[i] = to_bf16(v);
        }
        sum += v * v;
    }
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
    __shared__ float warp_sums[row_threads / 32];
    __shared__ float scale;
    int const warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) warp_sums[warp] = sum;
    __syncthreads();
    if (warp == 0) {
        float s = lane < row_threads / 32 ? warp_sums[lane] : 0.0f;
        for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_xor_sync(0xFFFFFFFFu, s, offset);
        if (lane == 0) scale = rsqrtf(s / static_cast<float>(hidden) + eps);
    }
    __syncthreads();
    float const r = scale;
    // Each thread reads back only the elements it wrote above.
    for (std::size_t i = threadIdx.x; i < hidden; i += blockDim.x)
        outr[i] = to_bf16(to_float(w[i]) * round_bf16(to_float(xr[i]) * r));
}

// One block per token at position start + t: rotates the token's q heads in
// place and its k heads into the key cache (transformers' apply_rotary_pos_emb:
// q * cos + rotate_half(q) * sin, cos and sin of float(position) * inv_freq
// rounded to bf16, each product and the sum rounded to bf16), and copies its v
// heads into the value cache. qkv rows hold q, k, v side by side; a cache is
// [kv head][position][head_dim].
__global__ void rope_append_kernel(bf16* __restrict__ qkv, bf16* __restrict__ k_cache, bf16* __restrict__ v_cache,
                                   float const* __restrict__ inv_freq, std::size_t start, int q_heads, int kv_heads,
                                   int head_dim, std::size_t max_positions) {
    std::size_t const t = blockIdx.x;
    std::size_t const position = start + t;
    int const half = head_dim / 2;
    std::size_t const row_stride = static_cast<std::size_t>(q_heads + 2 * kv_heads) * head_dim;
    bf16* row = qkv + t * row_stride;
    int const pairs = (q_heads + kv_heads) * half;
    for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
        int const head = p / half, k = p % half;
        float const angle = static_cast<float>(position) * inv_freq[k];
        float const c = round_bf16(cosf(angle)), s = round_bf16(sinf(angle));
        bf16 const* in = row + static_cast<std::size_t>(head) * head_dim;
        float const x1 = to_float(in[k]), x2 = to_float(in[k + half]);
        bf16 const y1 = to_bf16(round_bf16(x1 * c) - round_bf16(x2 * s));
        bf16 const y2 = to_bf16(round_bf16(x2 * c) + round_bf16(x1 * s));
        bf16* dst = head < q_heads
                        ? row + static_cast<std::size_t>(head) * head_dim
                        : k_cache + (static_cast<std::size_t>(head - q_heads) * max_positions + position) * head_dim;
        dst[k] = y1;
        dst[k + half] = y2;
    }
    bf16 const* v = row + static_cast<std::size_t>(q_heads + kv_heads) * head_dim;
    for (int e = threadIdx.x; e < kv_heads * head_dim; e += blockDim.x) {
        int const head = e / head_dim, d = e % head_dim;
        v_cache[(static_cast<std::size_t>(head) * max_positions + position) * head_dim + d] = v[e];
    }
}

// One block per (q head, token): causal attention of the token at position
// start + t over cached positions 0..start + t of its kv head (grouped-query:
// q head h reads kv head h / (q_heads / kv_heads)). Scores, softmax and the
// weighted sum in fp32; each warp keeps an online softmax over every
// attention_warps-th position, and the warps are merged at the end, so that no
// buffer grows with the sequence. Lane l holds dimensions l, l + 32, ...
__global__ void attention_kernel(bf16 const* __restrict__ qkv, bf16 const* __restrict__ k_cache,
                                 bf16 const* __restrict__ v_cache, bf16* __restrict__ out, std::size_t start,
                                 int q_heads, int kv_heads, int head_dim, std::size_t max_positions, float scale) {
    int const head = blockIdx.x;
    std::size_t const t = blockIdx.y;
    std::size_t const last = start + t;
    int const kv_head = head / (q_heads / kv_heads);
    int const warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    std::size_t const row_stride = static_cast<std::size_t>(q_heads + 2 * kv_heads) * head_dim;
    bf16 const* q = qkv + t * row_stride + static_cast<std::size_t>(head) * head_dim;
    bf16 const* keys = k_cache + static_cast<std::size_t>(kv_head) * max_positions * head_dim;
    bf16 const* values = v_cache + static_cast<std::size_t>(kv_head) * max_positions * head_dim;

    float qv[head_dims_per_lane], acc[head_dims_per_lane];
#pragma unroll
    for (int k = 0; k < head_dims_per_lane; ++k) {
        int const d = lane + 32 * k;
        qv[k] = d < head_dim ? to_float(q[d]) : 0.0f;
        acc[k] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (std::size_t j = warp; j <= last; j += attention_warps) {
        bf16 const* key = keys + j * head_dim;
        float dot = 0.0f;
#pragma unroll
        for (int k = 0; k < head_dims_per_lane; ++k) {
            int const d = lane + 32 * k;
            if (d < head_dim) dot += qv[k] * to_float(key[d]);
        }
        for (int offset = 16; offset > 0; offset >>= 1) dot += __shfl_xor_sync(0xFFFFFFFFu, dot, offset);
        float const s = dot * scale;
        float const m_new = fmaxf(m, s);
        float const correction = expf(m - m_new);  // 0 for the first position (m = -inf)
        float const p = expf(s - m_new);
        l = l * correction + p;
        bf16 const* value = values + j * head_dim;
#pragma unroll
        for (int k = 0; k < head_dims_per_lane; ++k) {
            int const d = lane + 32 * k;
            if (d < head_dim) acc[k] = acc[k] * correction + p * to_float(value[d]);
        }
        m = m_new;
    }

    __shared__ float warp_max[attention_warps], warp_sum[attention_warps];
    __shared__ float warp_acc[attention_warps][max_head_dim];
    if (lane == 0) {
        warp_max[warp] = m;
        warp_sum[warp] = l;
    }
#pragma unroll
    for (int k = 0; k < head_dims_per_lane; ++k) {
        int const d = lane + 32 * k;
        if (d < head_dim) warp_acc[warp][d] = acc[k];
    }
    __syncthreads();
    // Warp 0 always saw position 0, so the overall maximum is finite; a warp
    // that saw no position has sum 0 and weight exp(-inf) = 0.
    float overall = -INFINITY;
    for (int w = 0; w < attention_warps; ++w) overall = fmaxf(overall, warp_max[w]);
    float total = 0.0f;
    for (int w = 0; w < attention_warps; ++w) total += warp_sum[w] * expf(warp_max[w] - overall);
    bf16* o = out + t * static_cast<std::size_t>(q_heads) * head_dim + static_cast<std::size_t>(head) * head_dim;
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float v = 0.0f;
        for (int w = 0; w < attention_warps; ++w) v += warp_acc[w][d] * expf(warp_max[w] - overall);
        o[d] = to_bf16(v / total);
    }
}

// act = bf16(bf16(silu(gate)) * up), as transformers' act_fn(gate) * up in
// bf16; gate_up rows hold gate then up. n = tokens * intermediate.
__global__ void silu_mul_kernel(bf16 const* __restrict__ gate_up, bf16* __restrict__ act, std::size_t intermediate,
                                std::size_t n) {
    std::size_t const stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        std::size_t const t = i / intermediate, e = i % intermediate;
        float const g = to_float(gate_up[t * 2 * intermediate + e]);
        float const u = to_float(gate_up[t * 2 * intermediate + intermediate + e]);
        act[i] = to_bf16(round_bf16(g / (1.0f + expf(-g))) * u);
    }
}

// torch.argmax's order: NaN above everything, then the first index among equals.
__device__ __forceinline__ bool ranks_above(float v, int i, float best, int best_index) {
    bool const v_nan = isnan(v), best_nan = isnan(best);
    if (v_nan != best_nan) return v_nan;
    if (!v_nan && v != best) return v > best;
    return i < best_index;
}

// One block: *out = argmax of logits[0, n).
__global__ void argmax_kernel(float const* __restrict__ logits, int n, std::int32_t* __restrict__ out) {
    float best = -INFINITY;
    int best_index = INT_MAX;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        if (ranks_above(logits[i], i, best, best_index)) {
            best = logits[i];
            best_index = i;
        }
    for (int offset = 16; offset > 0; offset >>= 1) {
        float const v = __shfl_xor_sync(0xFFFFFFFFu, best, offset);
        int const i = __shfl_xor_sync(0xFFFFFFFFu, best_index, offset);
        if (ranks_above(v, i, best, best_index)) {
            best = v;
            best_index = i;
        }
    }
    __shared__ float warp_best[argmax_threads / 32];
    __shared__ int warp_index[argmax_threads / 32];
    int const warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        warp_best[warp] = best;
        warp_index[warp] = best_index;
    }
    __syncthreads();
    if (warp != 0) return;
    best = lane < argmax_threads / 32 ? warp_best[lane] : -INFINITY;
    best_index = lane < argmax_threads / 32 ? warp_index[lane] : INT_MAX;
    for (int offset = 16; offset > 0; offset >>= 1) {
        float const v = __shfl_xor_sync(0xFFFFFFFFu, best, offset);
        int const i = __shfl_xor_sync(0xFFFFFFFFu, best_index, offset);
        if (ranks_above(v, i, best, best_index)) {
            best = v;
            best_index = i;
        }
    }
    if (lane == 0) *out = best_index;
}

// What was being done, for an error message: built only when a call fails, so
// that a decode step does no string work.
std::string in_layer(std::size_t layer, char const* what) { return "layer " + std::to_string(layer) + ": " + what; }

unsigned grid_for(std::size_t work_items) {
    std::size_t const blocks = (work_items + elementwise_threads - 1) / elementwise_threads;
    std::size_t const cap = std::size_t{1} << 20;  // the loop is grid-stride
    return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// cuBLAS workspace: 32 MiB is what cuBLAS asks for on Hopper.
constexpr std::size_t cublas_workspace_bytes = std::size_t{32} << 20;

void check_shape(config const& c, std::size_t max_tokens) {
    auto fail = [](std::string const& what) { throw offload::configuration_error("llama::cuda_engine: " + what); };
    if (c.head_dim == 0 || c.head_dim % 2 != 0 || c.head_dim > static_cast<std::size_t>(max_head_dim))
        fail("head_dim must be even and at most " + std::to_string(max_head_dim) + ", got " +
             std::to_string(c.head_dim));
    if (c.num_key_value_heads == 0 || c.num_attention_heads % c.num_key_value_heads != 0)
        fail("num_key_value_heads (" + std::to_string(c.num_key_value_heads) + ") must divide num_attention_heads (" +
             std::to_string(c.num_attention_heads) + ")");
    // The attention grid has a block row per token, and a grid has at most 65535 rows.
    if (max_tokens == 0 || max_tokens > max_step_tokens)
        fail("max_tokens must be between 1 and " + std::to_string(max_step_tokens) + ", got " +
             std::to_string(max_tokens));
    // cuBLAS takes int sizes and leading dimensions; the kernels index heads and rows with int too.
    auto const limit = static_cast<std::size_t>(INT_MAX);
    std::pair<char const*, std::size_t> const sizes[] = {{"hidden_size", c.hidden_size},
                                                         {"intermediate_size * 2", 2 * c.intermediate_size},
                                                         {"vocab_size", c.vocab_size},
                                                         {"q + k + v features", c.q_size() + 2 * c.kv_size()}};
    for (auto const& [name, value] : sizes)
        if (value == 0 || value > limit)
            fail(std::string(name) + " must be between 1 and " + std::to_string(limit) + ", got " +
                 std::to_string(value));
}

// The tensor `name` of `outside`, checked to be bf16 of the given shape.
offload::safetensors::tensor_view const& outside_tensor(
    std::map<std::string, offload::safetensors::tensor_view> const& outside, std::string const& name,
    std::vector<std::size_t> const& shape) {
    auto const it = outside.find(name);
    if (it == outside.end())
        throw offload::configuration_error("llama::cuda_engine: the checkpoint has no tensor " + name);
    auto const& t = it->second;
    auto shape_text = [](std::vector<std::size_t> const& s) {
        std::string text = "[";
        for (std::size_t i = 0; i < s.size(); ++i) text += (i ? ", " : "") + std::to_string(s[i]);
        return text + "]";
    };
    if (t.type != offload::dtype::bf16)
        throw offload::configuration_error("llama::cuda_engine: " + name + " in " + t.file.string() + " is " +
                                           offload::dtype_name(t.type) + "; the CUDA engine runs bf16 only");
    if (t.shape != shape)
        throw offload::configuration_error("llama::cuda_engine: " + name + " in " + t.file.string() + " has shape " +
                                           shape_text(t.shape) + ", the config says " + shape_text(shape));
    return t;
}

}  // namespace

cuda_engine::cuda_engine(config const& c, std::map<std::string, offload::safetensors::tensor_view> const& outside,
                         std::size_t max_tokens, cudaStream_t stream, partial_sums sum_partials)
    : c_(c), max_tokens_(max_tokens), stream_(stream), sum_partials_(std::move(sum_partials)) {
    check_shape(c_, max_tokens_);
    auto const& embed = outside_tensor(outside, embed_tokens_name, {c_.vocab_size, c_.hidden_size});
    auto const& norm = outside_tensor(outside, final_norm_name, {c_.hidden_size});
    auto const* head =
        c_.tie_word_embeddings ? nullptr : &outside_tensor(outside, lm_head_name, {c_.vocab_size, c_.hidden_size});
    try {
        cublasHandle_t handle = nullptr;
        LLAMA_CUBLAS_TRY(cublasCreate(&handle), "creating the cuBLAS handle");
        handle_ = handle;
        // cublasSetStream resets the workspace to the default pool: set our own after it.
        LLAMA_CUBLAS_TRY(cublasSetStream(handle, stream_), "binding the cuBLAS handle to the stream");
        workspace_ = allocate(cublas_workspace_bytes, "the cuBLAS workspace");
        LLAMA_CUBLAS_TRY(cublasSetWorkspace(handle, workspace_, cublas_workspace_bytes),
                         "setting the cuBLAS workspace");
        LLAMA_CUBLAS_TRY(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST), "setting the cuBLAS pointer mode");

        auto upload = [this](offload::safetensors::tensor_view const& t) {
            void* d = allocate(t.bytes, t.name.c_str());
            OFFLOAD_CUDA_TRY(cudaMemcpyAsync(d, t.data, t.bytes, cudaMemcpyHostToDevice, stream_),
                             "copying " + t.name + " (" + std::to_string(t.bytes) + " bytes) to the device");
            return d;
        };
        embed_tokens_ = upload(embed);
        final_norm_ = upload(norm);
        lm_head_ = head != nullptr ? upload(*head) : embed_tokens_;
        std::vector<float> const inv_freq = rope_inv_freq(c_);
        inv_freq_ = static_cast<float*>(allocate(inv_freq.size() * sizeof(float), "the rotary frequencies"));
        OFFLOAD_CUDA_TRY(cudaMemcpyAsync(inv_freq_, inv_freq.data(), inv_freq.size() * sizeof(float),
                                         cudaMemcpyHostToDevice, stream_),
                         "copying the rotary frequencies to the device");

        std::size_t const n = max_tokens_, b = sizeof(bf16);
        x_ = allocate(n * c_.hidden_size * b, "the residual stream");
        delta_ = allocate(n * c_.hidden_size * b, "the sublayer output");
        normed_ = allocate(n * c_.hidden_size * b, "the normalised activations");
        qkv_ = allocate(n * (c_.q_size() + 2 * c_.kv_size()) * b, "q, k and v");
        attn_ = allocate(n * c_.q_size() * b, "the attention output");
        gate_up_ = allocate(n * 2 * c_.intermediate_size * b, "gate and up");
        act_ = allocate(n * c_.intermediate_size * b, "silu(gate) * up");
        logits_ = static_cast<float*>(allocate(n * c_.vocab_size * sizeof(float), "the logits"));
        kv_cache_ = allocate(c_.num_hidden_layers * 2 * c_.kv_size() * n * b, "the KV cache");
        device_tokens_ = static_cast<std::int32_t*>(allocate(n * sizeof(std::int32_t), "the token ids"));
        device_argmax_ = static_cast<std::int32_t*>(allocate(sizeof(std::int32_t), "the argmax"));

        OFFLOAD_CUDA_TRY(
            cudaHostAlloc(reinterpret_cast<void**>(&host_tokens_), n * sizeof(std::int32_t), cudaHostAllocDefault),
            "allocating page-locked staging for the token ids");
        OFFLOAD_CUDA_TRY(
            cudaHostAlloc(reinterpret_cast<void**>(&host_argmax_), sizeof(std::int32_t), cudaHostAllocDefault),
            "allocating page-locked staging for the argmax");
        OFFLOAD_CUDA_TRY(cudaEventCreateWithFlags(&tokens_copied_, cudaEventDisableTiming),
                         "creating the token-copy event");
        // The uploads read the caller's mapping: done before the constructor returns.
        OFFLOAD_CUDA_TRY(cudaStreamSynchronize(stream_), "waiting for the uploads of the tensors outside the layers");
    } catch (...) {
        release();
        throw;
    }
}

cuda_engine::~cuda_engine() { release(); }

void cuda_engine::release() noexcept {
    // Work enqueued on the stream may still use the buffers (none can exist without the handle).
    if (handle_ != nullptr) {
        OFFLOAD_CUDA_TRY_NOTHROW(cudaStreamSynchronize(stream_), "waiting for llama::cuda_engine's stream");
        cublasStatus_t const s = cublasDestroy(handle_);
        if (s != CUBLAS_STATUS_SUCCESS)
            std::fprintf(stderr, "offload-llama: %s:%d: %s (%s) while destroying the cuBLAS handle (ignored)\n",
                         __FILE__, __LINE__, cublasGetStatusName(s), cublasGetStatusString(s));
        handle_ = nullptr;
    }
    for (void* p : allocations_) OFFLOAD_CUDA_TRY_NOTHROW(cudaFree(p), "freeing llama::cuda_engine memory");
    allocations_.clear();
    for (std::int32_t** p : {&host_tokens_, &host_argmax_}) {
        if (*p != nullptr) OFFLOAD_CUDA_TRY_NOTHROW(cudaFreeHost(*p), "freeing llama::cuda_engine's staging");
        *p = nullptr;
    }
    if (tokens_copied_ != nullptr)
        OFFLOAD_CUDA_TRY_NOTHROW(cudaEventDestroy(tokens_copied_), "destroying the token-copy event");
    tokens_copied_ = nullptr;
}

void* cuda_engine::allocate(std::size_t bytes, char const* what) {
    void* p = nullptr;
    cudaError_t const status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        std::size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        cudaGetLastError();
        throw offload::out_of_memory(std::string("allocating llama::cuda_engine's ") + what, bytes, free_bytes);
    }
    OFFLOAD_CUDA_TRY(status,
                     std::string("allocating llama::cuda_engine's ") + what + " (" + std::to_string(bytes) + " bytes)");
    allocations_.push_back(p);
    device_bytes_ += bytes;
    return p;
}

// Row-major output[rows][out] = input[rows][in] weight^T for a weight stored
// row-major [out][in] (nn.Linear): column-major, that is op(A) * B with A the
// weight read as (in x out) and transposed, B the input read as (in x rows).
// bf16 in, fp32 accumulation, bf16 or fp32 out.
void cuda_engine::gemm(void const* weight, std::size_t out_features, std::size_t in_features, void const* input,
                       std::size_t input_stride, void* output, std::size_t output_stride, std::size_t rows,
                       bool fp32_output, std::size_t layer, char const* what) {
    float const one = 1.0f, zero = 0.0f;
    LLAMA_CUBLAS_TRY(
        cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out_features), static_cast<int>(rows),
                     static_cast<int>(in_features), &one, weight, CUDA_R_16BF, static_cast<int>(in_features), input,
                     CUDA_R_16BF, static_cast<int>(input_stride), &zero, output, fp32_output ? CUDA_R_32F : CUDA_R_16BF,
                     static_cast<int>(output_stride), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        layer == no_layer ? std::string(what) : in_layer(layer, what));
}

void cuda_engine::begin(std::span<std::int32_t const> tokens, std::size_t start_position) {
    std::string const where = "llama::cuda_engine::begin: ";
    if (tokens.empty()) throw offload::configuration_error(where + "no tokens");
    if (start_position > cached_positions_)
        throw offload::configuration_error(where + "position " + std::to_string(start_position) +
                                           " leaves a gap: the cache holds positions 0.." +
                                           std::to_string(cached_positions_) + " (exclusive)");
    if (start_position + tokens.size() > max_tokens_)
        throw offload::configuration_error(where + std::to_string(tokens.size()) + " tokens from position " +
                                           std::to_string(start_position) + " exceed max_tokens " +
                                           std::to_string(max_tokens_));
    for (std::size_t t = 0; t < tokens.size(); ++t)
        if (tokens[t] < 0 || static_cast<std::size_t>(tokens[t]) >= c_.vocab_size)
            throw offload::configuration_error(where + "token " + std::to_string(tokens[t]) + " at index " +
                                               std::to_string(t) + " is outside the vocabulary (" +
                                               std::to_string(c_.vocab_size) + ")");
    // The staging still feeds the previous step's copy until that copy has run.
    OFFLOAD_CUDA_TRY(cudaEventSynchronize(tokens_copied_), "waiting for the previous token copy");
    std::memcpy(host_tokens_, tokens.data(), tokens.size_bytes());
    OFFLOAD_CUDA_TRY(
        cudaMemcpyAsync(device_tokens_, host_tokens_, tokens.size_bytes(), cudaMemcpyHostToDevice, stream_),
        "copying the token ids to the device");
    OFFLOAD_CUDA_TRY(cudaEventRecord(tokens_copied_, stream_), "recording the token-copy event");
    embed_kernel<<<static_cast<unsigned>(tokens.size()), row_threads, 0, stream_>>>(
        device_tokens_, static_cast<bf16 const*>(embed_tokens_), static_cast<bf16*>(x_), c_.hidden_size);
    LLAMA_LAUNCH_CHECK("launching the embedding kernel");

    // Positions from start_position on are rewritten: the cache ends there until the step finishes.
    cached_positions_ = start_position;
    step_tokens_ = tokens.size();
    step_start_ = start_position;
    next_layer_ = 0;
    in_step_ = true;
    delta_pending_ = false;
    logits_ready_ = false;
}

void cuda_engine::layer(std::size_t i, layer_pointers const& w) {
    if (!in_step_ || i != next_layer_)
        throw offload::configuration_error(
            "llama::cuda_engine::layer: layer " + std::to_string(i) + " called " +
            (in_step_ ? "out of order (expected layer " + std::to_string(next_layer_) + ")" : "outside a step"));
    if (i >= c_.num_hidden_layers)
        throw offload::configuration_error("llama::cuda_engine::layer: layer " + std::to_string(i) +
                                           " does not exist (the config has " + std::to_string(c_.num_hidden_layers) +
                                           ")");
    std::size_t const tokens = step_tokens_, hidden = c_.hidden_size, q = c_.q_size(), kv = c_.kv_size();
    std::size_t const ffn = c_.intermediate_size, qkv_stride = q + 2 * kv;
    auto const weights = [&w](layer_buffer b) { return static_cast<bf16 const*>(w[b]); };
    auto* x = static_cast<bf16*>(x_);
    auto* delta = static_cast<bf16*>(delta_);
    auto* normed = static_cast<bf16*>(normed_);
    auto* qkv = static_cast<bf16*>(qkv_);
    auto const eps = static_cast<float>(c_.rms_norm_eps);

    add_rmsnorm_kernel<<<static_cast<unsigned>(tokens), row_threads, 0, stream_>>>(
        x, delta_pending_ ? delta : nullptr, weights(input_layernorm), normed, hidden, eps);
    LLAMA_LAUNCH_CHECK(in_layer(i, "launching the input RMSNorm kernel"));

    // q, k and v in one GEMM when their weights lie back to back (as in an
    // offloader's slot when their sizes are multiples of its 256-byte
    // alignment), else one GEMM each; the same for gate and up below.
    auto const* q_bytes = static_cast<char const*>(w[q_proj]);
    bool const qkv_adjacent = static_cast<char const*>(w[k_proj]) == q_bytes + q * hidden * sizeof(bf16) &&
                              static_cast<char const*>(w[v_proj]) == q_bytes + (q + kv) * hidden * sizeof(bf16);
    if (qkv_adjacent) {
        gemm(w[q_proj], qkv_stride, hidden, normed, hidden, qkv, qkv_stride, tokens, false, i,
             "running the q, k and v GEMM");
    } else {
        gemm(w[q_proj], q, hidden, normed, hidden, qkv, qkv_stride, tokens, false, i, "running the q GEMM");
        gemm(w[k_proj], kv, hidden, normed, hidden, qkv + q, qkv_stride, tokens, false, i, "running the k GEMM");
        gemm(w[v_proj], kv, hidden, normed, hidden, qkv + q + kv, qkv_stride, tokens, false, i, "running the v GEMM");
    }

    auto* k_cache = static_cast<bf16*>(kv_cache_) + i * 2 * kv * max_tokens_;
    auto* v_cache = k_cache + kv * max_tokens_;
    int const q_heads = static_cast<int>(c_.num_attention_heads), kv_heads = static_cast<int>(c_.num_key_value_heads);
    int const head_dim = static_cast<int>(c_.head_dim);
    rope_append_kernel<<<static_cast<unsigned>(tokens), row_threads, 0, stream_>>>(
        qkv, k_cache, v_cache, inv_freq_, step_start_, q_heads, kv_heads, head_dim, max_tokens_);
    LLAMA_LAUNCH_CHECK(in_layer(i, "launching the RoPE and KV-cache kernel"));
    float const scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
    attention_kernel<<<dim3(static_cast<unsigned>(q_heads), static_cast<unsigned>(tokens)), attention_warps * 32, 0,
                       stream_>>>(qkv, k_cache, v_cache, static_cast<bf16*>(attn_), step_start_, q_heads, kv_heads,
                                  head_dim, max_tokens_, scale);
    LLAMA_LAUNCH_CHECK(in_layer(i, "launching the attention kernel"));
    gemm(w[o_proj], hidden, q, attn_, q, delta, hidden, tokens, false, i, "running the o GEMM");
    if (sum_partials_) sum_partials_(delta, tokens * hidden);

    add_rmsnorm_kernel<<<static_cast<unsigned>(tokens), row_threads, 0, stream_>>>(
        x, delta, weights(post_attention_layernorm), normed, hidden, eps);
    LLAMA_LAUNCH_CHECK(in_layer(i, "launching the post-attention RMSNorm kernel"));

    auto* gate_up = static_cast<bf16*>(gate_up_);
    bool const gate_up_adjacent =
        static_cast<char const*>(w[up_proj]) == static_cast<char const*>(w[gate_proj]) + ffn * hidden * sizeof(bf16);
    if (gate_up_adjacent) {
        gemm(w[gate_proj], 2 * ffn, hidden, normed, hidden, gate_up, 2 * ffn, tokens, false, i,
             "running the gate and up GEMM");
    } else {
        gemm(w[gate_proj], ffn, hidden, normed, hidden, gate_up, 2 * ffn, tokens, false, i, "running the gate GEMM");
        gemm(w[up_proj], ffn, hidden, normed, hidden, gate_up + ffn, 2 * ffn, tokens, false, i, "running the up GEMM");
    }
    std::size_t const n = tokens * ffn;
    silu_mul_kernel<<<grid_for(n), elementwise_threads, 0, stream_>>>(gate_up, static_cast<bf16*>(act_), ffn, n);
    LLAMA_LAUNCH_CHECK(in_layer(i, "launching the SiLU(gate) * up kernel"));
    gemm(w[down_proj], hidden, ffn, act_, ffn, delta, hidden, tokens, false, i, "running the down GEMM");
    if (sum_partials_) sum_partials_(delta, tokens * hidden);

    delta_pending_ = true;
    ++next_layer_;
}

void cuda_engine::finish(std::vector<float>* all_logits) {
    if (!in_step_ || next_layer_ != c_.num_hidden_layers)
        throw offload::configuration_error("llama::cuda_engine::finish: " +
                                           (in_step_ ? "after " + std::to_string(next_layer_) + " of " +
                                                           std::to_string(c_.num_hidden_layers) + " layers"
                                                     : std::string("outside a step")));
    std::size_t const hidden = c_.hidden_size, vocab = c_.vocab_size;
    // Only the rows whose logits are wanted: every token's, or the last one's.
    std::size_t const rows = all_logits != nullptr ? step_tokens_ : 1;
    std::size_t const first = step_tokens_ - rows;
    auto* normed = static_cast<bf16*>(normed_) + first * hidden;
    add_rmsnorm_kernel<<<static_cast<unsigned>(rows), row_threads, 0, stream_>>>(
        static_cast<bf16*>(x_) + first * hidden, static_cast<bf16 const*>(delta_) + first * hidden,
        static_cast<bf16 const*>(final_norm_), normed, hidden, static_cast<float>(c_.rms_norm_eps));
    LLAMA_LAUNCH_CHECK("launching the final RMSNorm kernel");
    gemm(lm_head_, vocab, hidden, normed, hidden, logits_, vocab, rows, true, no_layer, "running the lm_head GEMM");

    in_step_ = false;
    cached_positions_ = step_start_ + step_tokens_;
    logits_row_ = rows - 1;
    logits_ready_ = true;
    if (all_logits == nullptr) return;
    all_logits->resize(rows * vocab);
    OFFLOAD_CUDA_TRY(
        cudaMemcpyAsync(all_logits->data(), logits_, rows * vocab * sizeof(float), cudaMemcpyDeviceToHost, stream_),
        "copying the logits to the host");
    OFFLOAD_CUDA_TRY(cudaStreamSynchronize(stream_), "waiting for the logits");
}

std::int32_t cuda_engine::next_token() {
    if (!logits_ready_)
        throw offload::configuration_error("llama::cuda_engine::next_token: no step has finished since the last begin");
    argmax_kernel<<<1, argmax_threads, 0, stream_>>>(logits_ + logits_row_ * c_.vocab_size,
                                                     static_cast<int>(c_.vocab_size), device_argmax_);
    LLAMA_LAUNCH_CHECK("launching the argmax kernel");
    OFFLOAD_CUDA_TRY(
        cudaMemcpyAsync(host_argmax_, device_argmax_, sizeof(std::int32_t), cudaMemcpyDeviceToHost, stream_),
        "copying the argmax to the host");
    OFFLOAD_CUDA_TRY(cudaStreamSynchronize(stream_), "waiting for the argmax");
    return *host_argmax_;
}

}  // namespace llama
