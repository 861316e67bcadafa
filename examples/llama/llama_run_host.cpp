// offload-llama on the host backend: host_engine, float32 math on the CPU.
#include "llama_run.hpp"

#include <cstddef>
#include <string>

#include <offload/backend/host.hpp>

#include "llama_host.hpp"
#include "llama_run_impl.hpp"

namespace llama::cli {
namespace detail {

template <>
struct backend_traits<offload::backend::host> {
    static constexpr char const* compute_dtype = "float32";
    // The simulated device holds every layer and 1 GiB besides, as a GPU
    // larger than the model would: residency decides what stays.
    static offload::backend::host_options backend_options(checkpoint_model const& m) {
        offload::backend::host_options h;
        std::size_t bytes = std::size_t{1} << 30;
        for (auto const& l : m.model().layers()) bytes += l.footprint();
        h.device_capacity = bytes;
        return h;
    }
    static host_engine make_engine(checkpoint_model const& m, std::size_t positions, offload::backend::host&) {
        return host_engine(m.cfg, m.outside(), positions, m.layer_type);
    }
    static std::string device_name(offload::backend::host&) { return "cpu"; }
};

}  // namespace detail

run_result run_on_host(checkpoint_model const& m, run_request const& q) {
    return detail::run_with<offload::backend::host>(m, q);
}

}  // namespace llama::cli
