#pragma once
// Deterministic, counter-based values for the example's weights and inputs:
// element i of a stream is a pure function of (key, i), so any part of a buffer
// can be generated anywhere (host, device, any thread) with the same result.
// Values are uniform on [-1, 1) times sqrt(3): unit variance, like randn.
// Host and device share these functions (FFN_HD is __host__ __device__ under nvcc).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__CUDACC__)
#define FFN_HD __host__ __device__ __forceinline__
#else
#define FFN_HD inline
#endif

namespace ffn::random {

FFN_HD std::uint64_t splitmix64(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The key of one stream: a weight buffer (layer, buffer) or the input (see input_key).
FFN_HD std::uint64_t stream_key(std::uint64_t seed, std::uint64_t layer, std::uint64_t buffer) {
    return splitmix64(splitmix64(seed ^ 0x6F66666C6F616421ull) + splitmix64(layer * 8 + buffer + 1));
}
FFN_HD std::uint64_t input_key(std::uint64_t seed) { return stream_key(seed, 0xFFFFFFFFull, 7); }

// Element i of a stream, uniform on [-1, 1). Two elements come from one 64-bit hash.
FFN_HD float uniform(std::uint64_t key, std::size_t i) {
    std::uint64_t const h = splitmix64(key + (static_cast<std::uint64_t>(i >> 1) + 1) * 0x9E3779B97F4A7C15ull);
    auto const bits = static_cast<std::uint32_t>((i & 1) ? (h >> 32) : h);
    return static_cast<float>(static_cast<std::int32_t>(bits)) * (1.0f / 2147483648.0f);
}

inline constexpr float sqrt3 = 1.7320508075688772f;

}  // namespace ffn::random

namespace ffn {

// bf16 <-> float on the host (round to nearest even; NaN stays NaN).
inline std::uint16_t float_to_bf16(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}
inline float bf16_to_float(std::uint16_t b) {
    std::uint32_t const u = static_cast<std::uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

namespace detail {

// Buffer b of a layer: scale and offset of its values. Weights are scaled like
// torch_peers.py (unit variance / sqrt(fan_in)); the norm weight is 1 +- 0.1.
struct buffer_law {
    float scale;
    float offset;
};
inline buffer_law law(std::size_t hidden, std::size_t ffn, std::size_t buffer) {
    auto rsqrt = [](std::size_t n) { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))); };
    switch (buffer) {
        case 0: return {0.1f, 1.0f};
        case 1:
        case 2: return {random::sqrt3 * rsqrt(hidden), 0.0f};
        default: return {random::sqrt3 * rsqrt(ffn), 0.0f};
    }
}

// Weight element i of a stream, uniform on [-1, 1) in steps of 2^-15: four
// 16-bit values come from one 64-bit hash (16 bits are plenty for bf16's 8-bit
// mantissa, and it quarters the hashing).
inline float weight_uniform(std::uint64_t key, std::size_t i) {
    std::uint64_t const h = random::splitmix64(key + (static_cast<std::uint64_t>(i >> 2) + 1) * 0x9E3779B97F4A7C15ull);
    auto const bits = static_cast<std::uint16_t>(h >> (16 * (i & 3)));
    return static_cast<float>(static_cast<std::int16_t>(bits)) * (1.0f / 32768.0f);
}

// bf16 weights of a law by their 16 random bits: a weight is a function of
// those bits only, so a 64 Ki-entry table maps bits to bf16 and generating is
// one hash and four lookups per four weights.
inline std::vector<std::uint16_t> weight_table(buffer_law l) {
    std::vector<std::uint16_t> table(65536);
    for (std::uint32_t b = 0; b < 65536; ++b)
        table[b] = float_to_bf16(static_cast<float>(static_cast<std::int16_t>(static_cast<std::uint16_t>(b))) *
                                     (1.0f / 32768.0f) * l.scale +
                                 l.offset);
    return table;
}

// Calls put(i, value) for elements [first, last) of a weight buffer, table
// being weight_table(l); the value is already rounded to bf16, so that the
// float and bf16 models are the same model. Any range gives the values that
// the whole buffer has there (a tensor-parallel shard is a set of ranges).
template <class Put>
void generate_bf16_range(std::uint64_t key, buffer_law l, std::uint16_t const* table, std::size_t first,
                         std::size_t last, Put put) {
    std::size_t i = first;
    for (; i < last && (i & 3) != 0; ++i) put(i, float_to_bf16(weight_uniform(key, i) * l.scale + l.offset));
    for (; i + 4 <= last; i += 4) {  // the same values as weight_uniform(key, i .. i + 3)
        std::uint64_t const h = random::splitmix64(key + (static_cast<std::uint64_t>(i >> 2) + 1) * 0x9E3779B97F4A7C15ull);
        put(i, table[h & 0xFFFFu]);
        put(i + 1, table[(h >> 16) & 0xFFFFu]);
        put(i + 2, table[(h >> 32) & 0xFFFFu]);
        put(i + 3, table[h >> 48]);
    }
    for (; i < last; ++i) put(i, float_to_bf16(weight_uniform(key, i) * l.scale + l.offset));
}

// Elements [0, n) of a weight buffer.
template <class Put>
void generate_bf16(std::uint64_t key, buffer_law l, std::size_t n, Put put) {
    std::vector<std::uint16_t> const table = weight_table(l);
    generate_bf16_range(key, l, table.data(), 0, n, put);
}

}  // namespace detail
}  // namespace ffn
