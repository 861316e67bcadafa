#pragma once
// Rotary embedding frequencies as transformers computes them, in float32:
// inv_freq[k] = 1 / theta^(2k / head_dim), then, for rope_type llama3,
// _compute_llama3_parameters: wavelengths longer than
// original_max_position_embeddings / low_freq_factor are divided by factor,
// those shorter than original_max_position_embeddings / high_freq_factor are
// kept, and the band between is interpolated. The angle of pair k at position
// p is float(p) * inv_freq[k], and rotate_half pairs element k with k + head_dim/2.
#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

#include "llama_config.hpp"

namespace llama {

inline std::vector<float> rope_inv_freq(config const& c) {
    std::size_t const half = c.head_dim / 2;
    auto const dim = static_cast<float>(c.head_dim);
    auto const theta = static_cast<float>(c.rope_theta);
    std::vector<float> inv(half);
    for (std::size_t k = 0; k < half; ++k) inv[k] = 1.0f / std::pow(theta, static_cast<float>(2 * k) / dim);
    if (!c.rope_scaling) return inv;

    auto const& s = *c.rope_scaling;
    auto const factor = static_cast<float>(s.factor);
    auto const low = static_cast<float>(s.low_freq_factor);
    auto const high = static_cast<float>(s.high_freq_factor);
    auto const old_context = static_cast<float>(s.original_max_position_embeddings);
    float const low_freq_wavelen = old_context / low;
    float const high_freq_wavelen = old_context / high;
    for (auto& f : inv) {
        float const wavelen = 2.0f * std::numbers::pi_v<float> / f;
        if (wavelen > low_freq_wavelen) {
            f = f / factor;
        } else if (wavelen >= high_freq_wavelen) {
            float const smooth = (old_context / wavelen - low) / (high - low);
            f = (1.0f - smooth) * f / factor + smooth * f;
        }
    }
    return inv;
}

}  // namespace llama
