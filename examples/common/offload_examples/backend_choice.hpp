#pragma once
// Which backend runs. A program that links its CUDA parts defines
// OFFLOAD_EXAMPLES_WITH_CUDA for the whole target (every translation unit
// must see the same definition); --backend auto then picks cuda when a GPU is
// usable and host otherwise.
#include <string>

#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace offload_examples {

#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
inline constexpr bool built_with_cuda = true;
#else
inline constexpr bool built_with_cuda = false;
#endif

// Why there is no usable GPU, or "" when there is one. Any error of
// cudaGetDeviceCount means none: without a driver it fails with
// cudaErrorInsufficientDriver.
inline std::string cuda_unavailable_reason() {
#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
    int count = 0;
    cudaError_t const status = cudaGetDeviceCount(&count);
    cudaGetLastError();
    if (status != cudaSuccess)
        return std::string("no usable CUDA device (cudaGetDeviceCount: ") + cudaGetErrorName(status) + ": " +
               cudaGetErrorString(status) + ")";
    if (count == 0) return "no CUDA device found";
    return "";
#else
    return "built without CUDA";
#endif
}

// "auto" -> "cuda" if usable, else "host"; "cuda" and "host" stay.
inline std::string resolve_backend(std::string const& requested) {
    if (requested != "auto") return requested;
    return built_with_cuda && cuda_unavailable_reason().empty() ? "cuda" : "host";
}

}  // namespace offload_examples
