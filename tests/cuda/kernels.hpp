#pragma once
// Host-callable launchers of the tests' own tiny kernels (kernels.cu, built by
// nvcc); this header needs only the CUDA runtime.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace offload::cuda_testing {

// state[k] += addend[k] for k < n, enqueued on stream; returns the launch status.
cudaError_t add_in_place(std::uint32_t* state, std::uint32_t const* addend, std::size_t n, cudaStream_t stream);

// *where = value from a single thread, enqueued on stream; returns the launch
// status. Given a bad pointer such as (int*)0x10 the kernel faults with
// cudaErrorIllegalAddress, a sticky error that ends the process's CUDA context
// (only tests that run in a process of their own may do that).
cudaError_t write_int(int* where, int value, cudaStream_t stream);

}  // namespace offload::cuda_testing
