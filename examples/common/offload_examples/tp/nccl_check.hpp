#pragma once
// NCCL calls, as OFFLOAD_CUDA_TRY does for the runtime: a failure throws
// offload::backend_error with the file, line, NCCL's error name and text (and
// its last-error detail), and what was being done.
#include <string>

#include <nccl.h>

#include <offload/errors.hpp>

namespace offload_examples::tp::detail {

inline char const* nccl_error_name(ncclResult_t r) {
    switch (r) {
        case ncclSuccess: return "ncclSuccess";
        case ncclUnhandledCudaError: return "ncclUnhandledCudaError";
        case ncclSystemError: return "ncclSystemError";
        case ncclInternalError: return "ncclInternalError";
        case ncclInvalidArgument: return "ncclInvalidArgument";
        case ncclInvalidUsage: return "ncclInvalidUsage";
        case ncclRemoteError: return "ncclRemoteError";
        case ncclInProgress: return "ncclInProgress";
        default: return "ncclResult";
    }
}

[[noreturn]] inline void throw_nccl_error(ncclResult_t r, ncclComm_t comm, char const* file, int line,
                                          std::string const& operation) {
    std::string text = ncclGetErrorString(r);
    if (char const* last = ncclGetLastError(comm); last != nullptr && *last != '\0') text += ": " + std::string(last);
    throw offload::backend_error(file, line, nccl_error_name(r), text, operation);
}

}  // namespace offload_examples::tp::detail

// For calls that complete or fail at once; a nonblocking communicator's
// ncclInProgress is not a failure (comm.cpp polls for it).
#define OFFLOAD_EXAMPLES_NCCL_TRY(call, comm, operation)                                                    \
    do {                                                                                                   \
        ncclResult_t const offload_nccl_status_ = (call);                                                  \
        if (offload_nccl_status_ != ncclSuccess && offload_nccl_status_ != ncclInProgress)                 \
            ::offload_examples::tp::detail::throw_nccl_error(offload_nccl_status_, (comm), __FILE__, __LINE__, \
                                                             (operation));                                 \
    } while (false)
