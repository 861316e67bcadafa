#pragma once
// The backend layer_offloader uses when none is named: CUDA where the user's
// build links it (the offload::cuda target defines OFFLOAD_HAS_CUDA), the
// host backend otherwise, so that a g++-only build needs no CUDA at all.
#if defined(OFFLOAD_HAS_CUDA)
#include <offload/backend/cuda.hpp>
namespace offload::backend {
using default_backend = cuda;
}
#else
#include <offload/backend/host.hpp>
namespace offload::backend {
using default_backend = host;
}
#endif
