#pragma once
#include <algorithm>
#include <string>

#include <offload/residency/concept.hpp>
#include <offload/residency/detail/clamp.hpp>

namespace offload::residency {

// The first num_layers_on_gpu layers stay on the device: what the classic
// presets mean.
struct first_n {
    using policy_kind = offload::policy_kind::residency;
    static constexpr char const* name = "first_n";

    static placement place(placement_request const& request) {
        placement p;
        std::size_t const count = detail::clamped_layer_count(request, p);
        p.resident.assign(request.layer_bytes.size(), false);
        std::fill_n(p.resident.begin(), count, true);
        p.reason = "first " + std::to_string(count) + " layers resident (num_layers_on_gpu = " +
                   std::to_string(request.cfg.num_layers_on_gpu) + ")";
        return p;
    }
};

static_assert(residency_policy<first_n>);

}  // namespace offload::residency
