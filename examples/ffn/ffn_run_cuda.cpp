// offload-ffn's runs on the CUDA backend: the bf16 cuBLAS stack of
// ffn_cuda.hpp. Host code (g++); the device code is in ffn_cuda.cu.
#include "ffn_run.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include <offload/backend/cuda.hpp>
#include <offload/detail/cuda_check.hpp>

#include "ffn_cuda.hpp"
#include "ffn_random.hpp"
#include "ffn_run_impl.hpp"

namespace ffn::cli {

namespace detail {
template <>
struct backend_traits<offload::backend::cuda> {
    static constexpr char const* dtype = "bfloat16";
    using element = std::uint16_t;  // of the activations: bf16 bits
    // The H2D rate from 256 MiB copies: large enough that the per-copy latency is lost in it.
    static constexpr std::size_t h2d_copy_bytes = std::size_t{256} << 20;
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
    // Waits for the stream; the bf16 activations as floats.
    static std::vector<float> output(cuda_stack& s) {
        std::vector<std::uint16_t> const bits = s.output();
        std::vector<float> x(bits.size());
        for (std::size_t i = 0; i < bits.size(); ++i) x[i] = bf16_to_float(bits[i]);
        return x;
    }
};
}  // namespace detail

run_result run_on_cuda(run_request const& q, offload::model const& m) {
    return detail::run_with<offload::backend::cuda>(q, m);
}

}  // namespace ffn::cli
