// offload-ffn's runs on the host backend: the float32 stack of ffn_host.hpp.
#include "ffn_run.hpp"

#include <cstddef>
#include <string>
#include <vector>

#include <offload/backend/host.hpp>

#include "ffn_host.hpp"
#include "ffn_run_impl.hpp"

namespace ffn::cli {

namespace detail {
template <>
struct backend_traits<offload::backend::host> {
    static constexpr char const* dtype = "float32";
    using element = float;  // of the activations
    // The memcpy rate from 64 MiB copies: past the caches, and quick under the sanitizers.
    static constexpr std::size_t h2d_copy_bytes = std::size_t{64} << 20;
    static offload::backend::host_options backend_options(run_request const& q) {
        offload::backend::host_options h;
        h.device_capacity = q.host_device_capacity;
        return h;
    }
    static host_stack make_stack(run_request const& q, offload::backend::host&) { return host_stack(q.d); }
    static std::string device_name(offload::backend::host&) { return "cpu"; }
    static std::vector<float> output(host_stack const& s) { return s.output(); }
};
}  // namespace detail

run_result run_on_host(run_request const& q, offload::model const& m) {
    return detail::run_with<offload::backend::host>(q, m);
}

}  // namespace ffn::cli
