// offload-llama on the CUDA backend: cuda_engine (llama_cuda.hpp), bf16
// weights, cuBLAS, the KV cache on the device, all on the offloader's compute stream.
#include "llama_run.hpp"

#include <string>

#include <cuda_runtime_api.h>

#include <offload/backend/cuda.hpp>
#include <offload/detail/cuda_check.hpp>
#include <offload/errors.hpp>

#include "llama_cuda.hpp"
#include "llama_run_impl.hpp"

namespace llama::cli {
namespace detail {

template <>
struct backend_traits<offload::backend::cuda> {
    static constexpr char const* compute_dtype = "bfloat16";
    static offload::backend::cuda_options backend_options(checkpoint_model const&) { return {}; }
    static cuda_engine make_engine(checkpoint_model const& m, std::size_t positions, offload::backend::cuda& b) {
        return cuda_engine(m.cfg, m.outside(), positions, b.compute_stream());
    }
    static std::string device_name(offload::backend::cuda& b) {
        cudaDeviceProp prop{};
        OFFLOAD_CUDA_TRY(cudaGetDeviceProperties(&prop, b.device()), "reading the device's properties");
        return prop.name;
    }
};

}  // namespace detail

run_result run_on_cuda(checkpoint_model const& m, run_request const& q) {
    if (m.layer_type != offload::dtype::bf16)
        throw offload::configuration_error(std::string("offload-llama: the CUDA engine runs bf16 weights, and this "
                                                       "model's layers are ") +
                                           offload::dtype_name(m.layer_type) + "; use --backend host");
    return detail::run_with<offload::backend::cuda>(m, q);
}

}  // namespace llama::cli
