// The example's FFN stack on the GPU (see ffn_cuda.hpp).
#include "ffn_cuda.hpp"

#include <climits>
#include <cstdio>
#include <string>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <offload/detail/cuda_check.hpp>
#include <offload/errors.hpp>

#include "ffn_random.hpp"

// cuBLAS calls, as OFFLOAD_CUDA_TRY does for the runtime: file, line, status name and text, what was being done.
#define FFN_CUBLAS_TRY(call, operation)                                                                 \
    do {                                                                                                \
        cublasStatus_t const ffn_status_ = (call);                                                      \
        if (ffn_status_ != CUBLAS_STATUS_SUCCESS)                                                       \
            throw ::offload::backend_error(__FILE__, __LINE__, cublasGetStatusName(ffn_status_),        \
                                           cublasGetStatusString(ffn_status_), (operation));            \
    } while (false)

// A kernel launch: configuration errors show at once, faults at the next synchronising call.
#define FFN_LAUNCH_CHECK(operation) OFFLOAD_CUDA_TRY(cudaGetLastError(), (operation))

namespace ffn {

// --- weights (host) ----------------------------------------------------------

void fill_layer_weights(dims const& d, std::uint64_t seed, std::size_t layer, std::uint16_t* const out[4]) {
    auto const n = layer_buffer_elements(d);
    for (std::size_t b = 0; b < n.size(); ++b) {
        std::uint16_t* dst = out[b];
        detail::generate_bf16(random::stream_key(seed, layer, b), detail::law(d.hidden, d.ffn, b), n[b],
                              [dst](std::size_t i, std::uint16_t v) { dst[i] = v; });
    }
}

std::vector<std::vector<std::uint16_t>> make_layer_weights(dims const& d, std::uint64_t seed, std::size_t layer) {
    auto const n = layer_buffer_elements(d);
    std::vector<std::vector<std::uint16_t>> w;
    w.reserve(n.size());
    for (auto count : n) w.emplace_back(count);
    std::uint16_t* const out[4] = {w[0].data(), w[1].data(), w[2].data(), w[3].data()};
    fill_layer_weights(d, seed, layer, out);
    return w;
}

// --- kernels -------------------------------------------------------------------

namespace {

constexpr int norm_threads = 256;
constexpr int elementwise_threads = 256;
constexpr float rms_eps = 1e-6f;

// One block per row: h = x * rsqrt(mean(x^2) + eps) * w. The sum of squares is
// fp32 and reduced in a fixed order (shuffles, then one warp): no atomics, so
// the same input gives the same bits.
__global__ void rmsnorm_kernel(__nv_bfloat16 const* __restrict__ x, __nv_bfloat16 const* __restrict__ w,
                               __nv_bfloat16* __restrict__ h, std::size_t hidden) {
    std::size_t const row = blockIdx.x;
    __nv_bfloat16 const* xr = x + row * hidden;
    __nv_bfloat16* hr = h + row * hidden;
    float sum = 0.0f;
    for (std::size_t i = threadIdx.x; i < hidden; i += blockDim.x) {
        float const v = __bfloat162float(xr[i]);
        sum += v * v;
    }
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
    __shared__ float warp_sums[norm_threads / 32];
    __shared__ float scale;
    int const warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) warp_sums[warp] = sum;
    __syncthreads();
    if (warp == 0) {
        float s = lane < norm_threads / 32 ? warp_sums[lane] : 0.0f;
        for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_xor_sync(0xFFFFFFFFu, s, offset);
        if (lane == 0) scale = rsqrtf(s / static_cast<float>(hidden) + rms_eps);
    }
    __syncthreads();
    float const r = scale;
    for (std::size_t i = threadIdx.x; i < hidden; i += blockDim.x)
        hr[i] = __float2bfloat16_rn(__bfloat162float(xr[i]) * r * __bfloat162float(w[i]));
}

__device__ __forceinline__ float silu_times(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// act = silu(gate) * up, elementwise; n elements.
__global__ void silu_mul_kernel(__nv_bfloat16 const* __restrict__ gate, __nv_bfloat16 const* __restrict__ up,
                                __nv_bfloat16* __restrict__ act, std::size_t n) {
    std::size_t const stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        act[i] = __float2bfloat16_rn(silu_times(__bfloat162float(gate[i]), __bfloat162float(up[i])));
}

// The same, eight elements (16 bytes) at a time; n8 = n / 8, pointers 16-byte aligned.
__global__ void silu_mul_kernel_x8(uint4 const* __restrict__ gate, uint4 const* __restrict__ up,
                                   uint4* __restrict__ act, std::size_t n8) {
    std::size_t const stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n8; i += stride) {
        uint4 const g = gate[i], u = up[i];
        uint4 a;
        auto const* g2 = reinterpret_cast<__nv_bfloat162 const*>(&g);
        auto const* u2 = reinterpret_cast<__nv_bfloat162 const*>(&u);
        auto* a2 = reinterpret_cast<__nv_bfloat162*>(&a);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            float2 const gf = __bfloat1622float2(g2[k]);
            float2 const uf = __bfloat1622float2(u2[k]);
            a2[k] = __floats2bfloat162_rn(silu_times(gf.x, uf.x), silu_times(gf.y, uf.y));
        }
        act[i] = a;
    }
}

// x[i] += update[i]: the residual add after a tensor-parallel all-reduce (fp32 add, one rounding).
__global__ void add_kernel(__nv_bfloat16* __restrict__ x, __nv_bfloat16 const* __restrict__ update, std::size_t n) {
    std::size_t const stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] = __float2bfloat16_rn(__bfloat162float(x[i]) + __bfloat162float(update[i]));
}

// x[i] = uniform(key, i) * sqrt(3): unit variance, as the host stack's input.
__global__ void input_kernel(__nv_bfloat16* __restrict__ x, std::uint64_t key, std::size_t n) {
    std::size_t const stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] = __float2bfloat16_rn(random::uniform(key, i) * random::sqrt3);
}

unsigned grid_for(std::size_t work_items) {
    std::size_t const blocks = (work_items + elementwise_threads - 1) / elementwise_threads;
    std::size_t const cap = std::size_t{1} << 20;  // the loops are grid-stride
    return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

void check_shape(dims const& d) {
    auto ok = [](std::size_t v) { return v >= 1 && v <= static_cast<std::size_t>(INT_MAX); };
    if (!ok(d.hidden) || !ok(d.ffn) || !ok(d.batch))
        throw offload::configuration_error("ffn::cuda_stack: hidden, ffn and batch must be between 1 and " +
                                           std::to_string(INT_MAX) + " (cuBLAS sizes), got hidden " +
                                           std::to_string(d.hidden) + ", ffn " + std::to_string(d.ffn) +
                                           ", batch " + std::to_string(d.batch));
}

void* device_alloc(std::size_t bytes, char const* what) {
    void* p = nullptr;
    cudaError_t const status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        std::size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        cudaGetLastError();
        throw offload::out_of_memory(std::string("allocating ffn::cuda_stack's ") + what, bytes, free_bytes);
    }
    OFFLOAD_CUDA_TRY(status, std::string("allocating ffn::cuda_stack's ") + what + " (" + std::to_string(bytes) +
                                 " bytes)");
    return p;
}

// cuBLAS workspace: 32 MiB is what cuBLAS asks for on Hopper.
constexpr std::size_t cublas_workspace_bytes = std::size_t{32} << 20;

}  // namespace

// --- cuda_stack ---------------------------------------------------------------

cuda_stack::cuda_stack(dims const& d, cudaStream_t stream) : d_(d), stream_(stream) {
    check_shape(d);
    try {
        cublasHandle_t handle = nullptr;
        FFN_CUBLAS_TRY(cublasCreate(&handle), "creating the cuBLAS handle");
        handle_ = handle;
        // cublasSetStream resets the workspace to the default pool: set our own after it.
        FFN_CUBLAS_TRY(cublasSetStream(handle, stream_), "binding the cuBLAS handle to the stream");
        workspace_ = device_alloc(cublas_workspace_bytes, "cuBLAS workspace");
        workspace_bytes_ = cublas_workspace_bytes;
        FFN_CUBLAS_TRY(cublasSetWorkspace(handle, workspace_, workspace_bytes_), "setting the cuBLAS workspace");
        FFN_CUBLAS_TRY(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST), "setting the cuBLAS pointer mode");
        std::size_t const row = d.batch * d.hidden * sizeof(__nv_bfloat16);
        std::size_t const wide = d.batch * d.ffn * sizeof(__nv_bfloat16);
        x_ = device_alloc(row, "activations x");
        h_ = device_alloc(row, "normalised activations h");
        gate_ = device_alloc(wide, "gate workspace");
        up_ = device_alloc(wide, "up workspace");
        act_ = device_alloc(wide, "activation workspace");
        OFFLOAD_CUDA_TRY(cudaMemsetAsync(x_, 0, row, stream_), "clearing the activations");
    } catch (...) {
        release();
        throw;
    }
}

cuda_stack::~cuda_stack() { release(); }

void cuda_stack::release() noexcept {
    // Work enqueued on the stream may still use the buffers (none can exist without the handle).
    if (handle_ != nullptr)
        OFFLOAD_CUDA_TRY_NOTHROW(cudaStreamSynchronize(stream_), "waiting for ffn::cuda_stack's stream");
    if (handle_ != nullptr) {
        cublasStatus_t const s = cublasDestroy(static_cast<cublasHandle_t>(handle_));
        if (s != CUBLAS_STATUS_SUCCESS)
            std::fprintf(stderr, "offload-ffn: %s:%d: %s (%s) while destroying the cuBLAS handle (ignored)\n",
                         __FILE__, __LINE__, cublasGetStatusName(s), cublasGetStatusString(s));
        handle_ = nullptr;
    }
    for (void** p : {&act_, &up_, &gate_, &h_, &x_, &workspace_}) {
        if (*p != nullptr) OFFLOAD_CUDA_TRY_NOTHROW(cudaFree(*p), "freeing ffn::cuda_stack memory");
        *p = nullptr;
    }
}

void cuda_stack::set_input(std::uint64_t seed) {
    std::size_t const n = d_.batch * d_.hidden;
    input_kernel<<<grid_for(n), elementwise_threads, 0, stream_>>>(static_cast<__nv_bfloat16*>(x_),
                                                                    random::input_key(seed), n);
    FFN_LAUNCH_CHECK("launching the input kernel");
}

void cuda_stack::set_input(std::vector<std::uint16_t> const& x) {
    std::size_t const n = d_.batch * d_.hidden;
    if (x.size() != n)
        throw offload::configuration_error("ffn::cuda_stack::set_input: got " + std::to_string(x.size()) +
                                           " values, the stack holds batch * hidden = " + std::to_string(n));
    OFFLOAD_CUDA_TRY(cudaMemcpyAsync(x_, x.data(), n * sizeof(std::uint16_t), cudaMemcpyHostToDevice, stream_),
                     "copying the input to the device");
    OFFLOAD_CUDA_TRY(cudaStreamSynchronize(stream_), "waiting for the input copy");
}

void cuda_stack::layer(void const* norm_w, void const* gate, void const* up, void const* down) {
    activation(norm_w, gate, up);
    // x = 1 * act down^T + 1 * x: the residual add is the GEMM's beta (C is x, read then written).
    down_projection(down, x_, 1.0f, "running the down GEMM with the residual add (bf16, fp32 accumulate)");
}

void cuda_stack::layer_update(void const* norm_w, void const* gate, void const* up, void const* down, void* out) {
    activation(norm_w, gate, up);
    down_projection(down, out, 0.0f, "running the down GEMM of a layer's update (bf16, fp32 accumulate)");
}

void cuda_stack::add_to_activations(void const* update) {
    std::size_t const n = d_.batch * d_.hidden;
    add_kernel<<<grid_for(n), elementwise_threads, 0, stream_>>>(static_cast<__nv_bfloat16*>(x_),
                                                                  static_cast<__nv_bfloat16 const*>(update), n);
    FFN_LAUNCH_CHECK("launching the residual add kernel");
}

void cuda_stack::down_projection(void const* down, void* out, float beta, char const* what) {
    int const hidden = static_cast<int>(d_.hidden), ffn = static_cast<int>(d_.ffn), batch = static_cast<int>(d_.batch);
    float const one = 1.0f;
    FFN_CUBLAS_TRY(cublasGemmEx(static_cast<cublasHandle_t>(handle_), CUBLAS_OP_T, CUBLAS_OP_N, hidden, batch, ffn,
                                &one, down, CUDA_R_16BF, ffn, act_, CUDA_R_16BF, ffn, &beta, out, CUDA_R_16BF, hidden,
                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   what);
}

void cuda_stack::activation(void const* norm_w, void const* gate, void const* up) {
    auto const handle = static_cast<cublasHandle_t>(handle_);
    int const hidden = static_cast<int>(d_.hidden), ffn = static_cast<int>(d_.ffn), batch = static_cast<int>(d_.batch);
    auto* x = static_cast<__nv_bfloat16*>(x_);
    auto* h = static_cast<__nv_bfloat16*>(h_);

    rmsnorm_kernel<<<batch, norm_threads, 0, stream_>>>(x, static_cast<__nv_bfloat16 const*>(norm_w), h, d_.hidden);
    FFN_LAUNCH_CHECK("launching the RMSNorm kernel");

    // Row-major y[batch][out] = h[batch][in] W^T with W row-major [out][in] is,
    // column-major, Y (out x batch) = op(A) * B with A = W read as (in x out),
    // op = T, lda = in, and B = h read as (in x batch), ldb = in. No transpose
    // is materialised (the "TN" GEMM that torch.nn.functional.linear runs).
    float const one = 1.0f, zero = 0.0f;
    FFN_CUBLAS_TRY(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, ffn, batch, hidden, &one, gate, CUDA_R_16BF, hidden,
                                h, CUDA_R_16BF, hidden, &zero, gate_, CUDA_R_16BF, ffn, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT),
                   "running the gate GEMM (bf16, fp32 accumulate)");
    FFN_CUBLAS_TRY(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, ffn, batch, hidden, &one, up, CUDA_R_16BF, hidden,
                                h, CUDA_R_16BF, hidden, &zero, up_, CUDA_R_16BF, ffn, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT),
                   "running the up GEMM (bf16, fp32 accumulate)");

    std::size_t const n = d_.batch * d_.ffn;
    if (n % 8 == 0) {
        silu_mul_kernel_x8<<<grid_for(n / 8), elementwise_threads, 0, stream_>>>(
            static_cast<uint4 const*>(gate_), static_cast<uint4 const*>(up_), static_cast<uint4*>(act_), n / 8);
    } else {
        silu_mul_kernel<<<grid_for(n), elementwise_threads, 0, stream_>>>(
            static_cast<__nv_bfloat16 const*>(gate_), static_cast<__nv_bfloat16 const*>(up_),
            static_cast<__nv_bfloat16*>(act_), n);
    }
    FFN_LAUNCH_CHECK("launching the SiLU(gate) * up kernel");
}

std::vector<std::uint16_t> cuda_stack::output() {
    std::vector<std::uint16_t> out(d_.batch * d_.hidden);
    OFFLOAD_CUDA_TRY(cudaMemcpyAsync(out.data(), x_, out.size() * sizeof(std::uint16_t), cudaMemcpyDeviceToHost,
                                     stream_),
                     "copying the activations to the host");
    OFFLOAD_CUDA_TRY(cudaStreamSynchronize(stream_), "waiting for the FFN stack's stream");
    return out;
}

double cuda_stack::checksum() {
    double sum = 0;
    for (std::uint16_t v : output()) sum += static_cast<double>(bf16_to_float(v));
    return sum;
}

double cuda_stack::flops_per_layer() const { return ffn::flops_per_layer(d_); }

}  // namespace ffn
