#pragma once
// Makes a device current for a scope and restores the caller's device when
// the scope ends (as RMM's cuda_set_device_raii does): an offloader's entry
// points run on its device whatever the caller's current device is, and leave
// it as they found it. Switches only when the devices differ.
#include <new>
#include <string>

#include <cuda_runtime_api.h>

#include <offload/detail/cuda_check.hpp>

namespace offload::detail {

class cuda_device_guard {
public:
    explicit cuda_device_guard(int device) {
        OFFLOAD_CUDA_TRY(cudaGetDevice(&previous_), "reading the caller's current device");
        if (previous_ != device) {
            OFFLOAD_CUDA_TRY(cudaSetDevice(device), "making device " + std::to_string(device) + " current");
            switched_ = true;
        }
    }
    // For destructors and other paths that must not throw: failures are reported on stderr.
    cuda_device_guard(int device, std::nothrow_t) noexcept {
        if (cudaGetDevice(&previous_) != cudaSuccess) {
            cudaGetLastError();
            return;
        }
        if (previous_ != device) {
            OFFLOAD_CUDA_TRY_NOTHROW(cudaSetDevice(device), "making the offloader's device current");
            switched_ = true;
        }
    }
    cuda_device_guard(cuda_device_guard const&) = delete;
    cuda_device_guard& operator=(cuda_device_guard const&) = delete;
    ~cuda_device_guard() {
        if (switched_) OFFLOAD_CUDA_TRY_NOTHROW(cudaSetDevice(previous_), "restoring the caller's current device");
    }

private:
    int previous_ = 0;
    bool switched_ = false;
};

}  // namespace offload::detail
