#pragma once
#include <string>

#include <offload/residency/placement.hpp>

namespace offload::residency::detail {

// num_layers_on_gpu larger than the stack is clamped, not refused: presets are
// written for a typical model size and must work on a smaller one. The stats
// carry the warning.
inline std::size_t clamped_layer_count(placement_request const& request, placement& p) {
    std::size_t const layers = request.layer_bytes.size();
    if (request.cfg.num_layers_on_gpu <= layers) return request.cfg.num_layers_on_gpu;
    p.warnings.push_back("num_layers_on_gpu = " + std::to_string(request.cfg.num_layers_on_gpu) +
                         " exceeds the " + std::to_string(layers) + " layers of the model; clamped to " +
                         std::to_string(layers));
    return layers;
}

}  // namespace offload::residency::detail
