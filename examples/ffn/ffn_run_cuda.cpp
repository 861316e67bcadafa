// offload-ffn's runs on the CUDA backend: the bf16 cuBLAS stack of
// ffn_cuda.hpp. Host code (g++); the device code is in ffn_cuda.cu.
#include "ffn_run.hpp"

#include <cuda_runtime_api.h>

#include <offload/backend/cuda.hpp>
#include <offload/detail/cuda_check.hpp>

#include "ffn_cuda.hpp"
#include "ffn_run_impl.hpp"

namespace ffn::cli {

namespace detail {
template <>
struct backend_traits<offload::backend::cuda> {
    static constexpr char const* dtype = "bfloat16";
    static offload::backend::cuda_options backend_options(run_request const&) { return {}; }
    // cuBLAS and the kernels run on the offloader's compute stream.
    static cuda_stack make_stack(run_request const& q, offload::backend::cuda& b) {
        return cuda_stack(q.d, b.compute_stream());
    }
    static std::string device_name(offload::backend::cuda& b) {
        cudaDeviceProp prop{};
        OFFLOAD_CUDA_TRY(cudaGetDeviceProperties(&prop, b.device()), "reading the device's properties");
        return prop.name;
    }
};
}  // namespace detail

run_result run_on_cuda(run_request const& q, offload::model const& m) {
    return detail::run_with<offload::backend::cuda>(q, m);
}

}  // namespace ffn::cli
