#pragma once
// bf16 test tensors for the codec tests (host and GPU): weight-like
// distributions and the bit patterns a lossless codec must keep. Deterministic:
// a fixed seed per call, std::mt19937_64.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <offload/codec/detail/bits.hpp>
#include <offload/tensor.hpp>

namespace offload::codec_testing {

using bf16_vector = std::vector<std::uint16_t>;

inline offload::tensor_info bf16_tensor(std::string name, std::size_t rows, std::size_t cols) {
    return offload::tensor_info{std::move(name), offload::dtype::bf16, rows, cols, true};
}

inline std::uint16_t to_bf16(float x) { return offload::codec::detail::float_to_bf16(x); }
inline float to_float(std::uint16_t b) { return offload::codec::detail::bf16_to_float(b); }

// Gaussian with the spread of a trained layer's weights (sigma 0.02).
inline bf16_vector gaussian(std::size_t n, std::uint64_t seed = 1) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, 0.02f);
    bf16_vector v(n);
    for (auto& x : v) x = to_bf16(d(rng));
    return v;
}

// Heavy-tailed: Student's t with 3 degrees of freedom, scaled like gaussian().
inline bf16_vector heavy_tailed(std::size_t n, std::uint64_t seed = 2) {
    std::mt19937_64 rng(seed);
    std::student_t_distribution<float> d(3.0f);
    bf16_vector v(n);
    for (auto& x : v) x = to_bf16(0.02f * d(rng));
    return v;
}

// Every 16-bit pattern equally likely: NaNs with payloads, infinities,
// subnormals and zeros of both signs among them.
inline bf16_vector random_bits(std::size_t n, std::uint64_t seed = 3) {
    std::mt19937_64 rng(seed);
    bf16_vector v(n);
    for (auto& x : v) x = static_cast<std::uint16_t>(rng());
    return v;
}

// The values a float format treats specially, repeated to n elements:
// +-0, +-inf, quiet and signalling NaNs with payloads, subnormals, the
// largest and smallest normals.
inline bf16_vector special_values(std::size_t n) {
    static constexpr std::uint16_t specials[] = {
        0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x7F81, 0xFFBF, 0x7FFF, 0x0001,
        0x8001, 0x007F, 0x807F, 0x0040, 0x0080, 0x8080, 0x7F7F, 0xFF7F, 0x3F80, 0xBF80};
    bf16_vector v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = specials[i % std::size(specials)];
    return v;
}

}  // namespace offload::codec_testing
