// The tests' own kernels. Kept apart from the offload headers, which the tests
// include from host-compiled .cpp files only.
#include "kernels.hpp"

#include <cuda_runtime.h>

namespace offload::cuda_testing {

namespace {

__global__ void add_in_place_kernel(std::uint32_t* __restrict__ state, std::uint32_t const* __restrict__ addend,
                                    std::size_t n) {
    std::size_t const stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        state[i] += addend[i];
}

__global__ void write_int_kernel(int* where, int value) { *where = value; }

}  // namespace

cudaError_t add_in_place(std::uint32_t* state, std::uint32_t const* addend, std::size_t n, cudaStream_t stream) {
    constexpr unsigned threads = 256;
    std::size_t blocks = (n + threads - 1) / threads;
    if (blocks == 0) blocks = 1;
    if (blocks > 1024) blocks = 1024;
    add_in_place_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(state, addend, n);
    return cudaGetLastError();
}

cudaError_t write_int(int* where, int value, cudaStream_t stream) {
    write_int_kernel<<<1, 1, 0, stream>>>(where, value);
    return cudaGetLastError();
}

}  // namespace offload::cuda_testing
