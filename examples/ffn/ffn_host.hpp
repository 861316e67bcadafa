#pragma once
// The example's FFN stack on the CPU, in float32: the same model as
// ffn_cuda.hpp (same structure, same weights and input values), for the host
// backend and as a reference for the CUDA stack. Header-only, no CUDA.
//
// One layer, for activations x [batch][hidden]:
//   h = rmsnorm(x) * norm_w                   (eps 1e-6)
//   x = x + down( silu(h gate^T) * (h up^T) )  (weights row-major [out][in])
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <offload/errors.hpp>

#include "ffn_dims.hpp"
#include "ffn_random.hpp"

namespace ffn {

// Fills caller-provided memory: out[b] holds layer_buffer_elements(d)[b] floats.
// The values are those of make_layer_weights (bf16) converted to float, so the
// host and CUDA stacks run the same model.
inline void fill_layer_weights_f32(dims const& d, std::uint64_t seed, std::size_t layer, float* const out[4]) {
    auto const n = layer_buffer_elements(d);
    for (std::size_t b = 0; b < n.size(); ++b) {
        float* dst = out[b];
        detail::generate_bf16(random::stream_key(seed, layer, b), detail::law(d.hidden, d.ffn, b), n[b],
                              [dst](std::size_t i, std::uint16_t v) { dst[i] = bf16_to_float(v); });
    }
}

// Deterministic weights for layer `layer`, one float vector per buffer
// (layer_buffer_bytes_f32 order).
inline std::vector<std::vector<float>> make_layer_weights_f32(dims const& d, std::uint64_t seed, std::size_t layer) {
    auto const n = layer_buffer_elements(d);
    std::vector<std::vector<float>> w;
    w.reserve(n.size());
    for (auto count : n) w.emplace_back(count);
    float* const out[4] = {w[0].data(), w[1].data(), w[2].data(), w[3].data()};
    fill_layer_weights_f32(d, seed, layer, out);
    return w;
}

// Activations and workspaces of one stack on the CPU. layer() computes at once
// on the calling thread, which is what the host backend's compute stream does.
class host_stack {
public:
    explicit host_stack(dims const& d) : d_(d) {
        if (d.hidden == 0 || d.ffn == 0 || d.batch == 0)
            throw offload::configuration_error("ffn::host_stack: hidden, ffn and batch must be at least 1, got hidden " +
                                               std::to_string(d.hidden) + ", ffn " + std::to_string(d.ffn) +
                                               ", batch " + std::to_string(d.batch));
        x_.assign(d.batch * d.hidden, 0.0f);
        h_.assign(d.batch * d.hidden, 0.0f);
        gate_.assign(d.batch * d.ffn, 0.0f);
        up_.assign(d.batch * d.ffn, 0.0f);
    }

    // x = the same values as cuda_stack::set_input(seed) (bf16-representable).
    void set_input(std::uint64_t seed) {
        std::uint64_t const key = random::input_key(seed);
        for (std::size_t i = 0; i < x_.size(); ++i)
            x_[i] = bf16_to_float(float_to_bf16(random::uniform(key, i) * random::sqrt3));
    }
    void set_input(std::vector<float> const& x) {
        if (x.size() != x_.size())
            throw offload::configuration_error("ffn::host_stack::set_input: got " + std::to_string(x.size()) +
                                               " values, the stack holds batch * hidden = " +
                                               std::to_string(x_.size()));
        x_ = x;
    }

    // One layer; pointers to float data in buffer order (a host-backend layer_view's buffer(0..3)).
    void layer(void const* norm_w, void const* gate, void const* up, void const* down) {
        auto const* w = static_cast<float const*>(norm_w);
        std::size_t const H = d_.hidden, F = d_.ffn;
        for (std::size_t b = 0; b < d_.batch; ++b) {
            float const* x = &x_[b * H];
            float* h = &h_[b * H];
            float const r = 1.0f / std::sqrt(dot(x, x, H) / static_cast<float>(H) + 1e-6f);
            for (std::size_t i = 0; i < H; ++i) h[i] = x[i] * r * w[i];
        }
        linear(h_.data(), static_cast<float const*>(gate), gate_.data(), H, F, false);
        linear(h_.data(), static_cast<float const*>(up), up_.data(), H, F, false);
        for (std::size_t i = 0; i < gate_.size(); ++i) {
            float const g = gate_[i];
            gate_[i] = g / (1.0f + std::exp(-g)) * up_[i];
        }
        linear(gate_.data(), static_cast<float const*>(down), x_.data(), F, H, true);
    }

    // x [batch][hidden].
    std::vector<float> output() const { return x_; }
    double checksum() const {
        double sum = 0;
        for (float v : x_) sum += v;
        return sum;
    }
    double flops_per_layer() const { return ffn::flops_per_layer(d_); }
    dims const& shape() const noexcept { return d_; }
    // x [batch][hidden] in place, as cuda_stack::activations() is on the device.
    void const* activations() const noexcept { return x_.data(); }

private:
    // Eight partial sums, so that the compiler can vectorise without reordering a single sum.
    static float dot(float const* a, float const* b, std::size_t n) {
        float acc[8] = {};
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
        for (; i < n; ++i) acc[0] += a[i] * b[i];
        return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
    // out[b][o] (+)= in[b] . W[o] for W row-major [n_out][n_in].
    void linear(float const* in, float const* W, float* out, std::size_t n_in, std::size_t n_out,
                bool accumulate) const {
        for (std::size_t o = 0; o < n_out; ++o) {
            float const* wrow = W + o * n_in;
            for (std::size_t b = 0; b < d_.batch; ++b) {
                float const y = dot(in + b * n_in, wrow, n_in);
                float& dst = out[b * n_out + o];
                dst = accumulate ? dst + y : y;
            }
        }
    }

    dims d_;
    std::vector<float> x_, h_, gate_, up_;
};

}  // namespace ffn
