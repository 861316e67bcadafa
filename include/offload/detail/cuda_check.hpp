#pragma once
// Every CUDA runtime call goes through one of these: the throwing form names
// the file, line, error and what was being done; the quiet form is for
// destructors, which must not throw.
#include <cstdio>
#include <string>

#include <cuda_runtime_api.h>

#include <offload/errors.hpp>

namespace offload::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, char const* file, int line,
                                          std::string const& operation) {
    cudaGetLastError();  // clear a non-sticky error so that the caller can go on
    throw backend_error(file, line, cudaGetErrorName(status), cudaGetErrorString(status), operation);
}

inline void report_cuda_error_quietly(cudaError_t status, char const* file, int line,
                                      char const* operation) noexcept {
    if (status == cudaSuccess || status == cudaErrorCudartUnloading) return;
    std::fprintf(stderr, "offload: %s:%d: %s (%s) while %s (ignored in a destructor)\n", file, line,
                 cudaGetErrorName(status), cudaGetErrorString(status), operation);
}

}  // namespace offload::detail

#define OFFLOAD_CUDA_TRY(call, operation)                                                   \
    do {                                                                                    \
        cudaError_t const offload_status_ = (call);                                         \
        if (offload_status_ != cudaSuccess)                                                 \
            ::offload::detail::throw_cuda_error(offload_status_, __FILE__, __LINE__, (operation)); \
    } while (false)

#define OFFLOAD_CUDA_TRY_NOTHROW(call, operation) \
    ::offload::detail::report_cuda_error_quietly((call), __FILE__, __LINE__, (operation))
