#pragma once
#include <string>

#include <offload/residency/concept.hpp>
#include <offload/residency/detail/clamp.hpp>

namespace offload::residency {

// num_layers_on_gpu resident layers spread evenly through the stack, so that
// each streamed layer's copy has resident compute in front of it to hide behind.
struct interleaved {
    using policy_kind = offload::policy_kind::residency;
    static constexpr char const* name = "interleaved";

    static placement place(placement_request const& request) {
        placement p;
        std::size_t const layers = request.layer_bytes.size();
        std::size_t const count = detail::clamped_layer_count(request, p);
        p.resident.assign(layers, false);
        // Layer i is resident when the running share count*i/layers crosses an integer.
        for (std::size_t i = 0; i < layers; ++i)
            p.resident[i] = (i + 1) * count / layers != i * count / layers;
        p.reason = std::to_string(count) + " resident layers spread evenly over " + std::to_string(layers) +
                   " (num_layers_on_gpu = " + std::to_string(request.cfg.num_layers_on_gpu) + ")";
        return p;
    }
};

static_assert(residency_policy<interleaved>);

}  // namespace offload::residency
