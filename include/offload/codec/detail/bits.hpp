#pragma once
// Bit-level conversions shared by the CPU reference codecs and the CUDA decode
// kernels. Both sides run these very functions, so a decoded value is the same
// bits on either: fp32 arithmetic, one IEEE multiply, one round-to-nearest-even
// conversion to bf16 done in integer arithmetic.
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define OFFLOAD_CODEC_HD __host__ __device__ __forceinline__
#else
#define OFFLOAD_CODEC_HD inline
#endif

namespace offload::codec::detail {

OFFLOAD_CODEC_HD float float_from_bits(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
#endif
}

OFFLOAD_CODEC_HD std::uint32_t bits_of(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
#endif
}

OFFLOAD_CODEC_HD float bf16_to_float(std::uint16_t b) { return float_from_bits(std::uint32_t{b} << 16); }

// Round to nearest, ties to even; a NaN stays a (quiet) NaN instead of
// rounding into infinity.
OFFLOAD_CODEC_HD std::uint16_t float_to_bf16(float f) {
    std::uint32_t u = bits_of(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}

// The one multiply of every lossy decode. On the device __fmul_rn keeps the
// compiler from fusing it with anything (an FMA would round differently).
OFFLOAD_CODEC_HD float multiply(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

// fp8 e4m3fn (no infinities; 0x7F and 0xFF are NaN; largest finite 448):
// sign, 4 exponent bits with bias 7, 3 mantissa bits. Exact in fp32.
OFFLOAD_CODEC_HD float e4m3_to_float(std::uint8_t v) {
    std::uint32_t const sign = std::uint32_t{v & 0x80u} << 24;
    std::uint32_t const exponent = (v >> 3) & 0xFu;
    std::uint32_t const mantissa = v & 0x7u;
    if (exponent == 0)  // subnormal: mantissa * 2^-9, exact
        return float_from_bits(sign | bits_of(static_cast<float>(mantissa) * (1.0f / 512.0f)));
    return float_from_bits(sign | ((exponent + 120u) << 23) | (mantissa << 20));
}

inline constexpr bool e4m3_is_nan(std::uint8_t v) noexcept { return (v & 0x7Fu) == 0x7Fu; }

}  // namespace offload::codec::detail

// The encoders run on the host only.
#if !defined(__CUDA_ARCH__)
#include <cmath>

namespace offload::codec::detail {

// v finite; round to nearest even, saturating to +-448 (e4m3fn has no
// infinity, and a value past 448 must not become NaN).
inline std::uint8_t float_to_e4m3(float v) {
    std::uint8_t const sign = std::signbit(v) ? 0x80u : 0x00u;
    float const a = std::fabs(v);
    if (a < 0x1p-6f)  // subnormal range: steps of 2^-9; a count of 8 is the smallest normal, 0x08
        return sign | static_cast<std::uint8_t>(std::nearbyint(a * 512.0f));
    int e = 0;
    float const significand = std::frexp(a, &e);  // a = significand * 2^e, significand in [0.5, 1)
    // Exact in fp32: a scaled by a power of two, less 1, times 8.
    auto mantissa = static_cast<int>(std::nearbyint((significand * 2.0f - 1.0f) * 8.0f));
    int exponent = e - 1 + 7;
    if (mantissa == 8) {
        mantissa = 0;
        ++exponent;
    }
    int const code = (exponent << 3) | mantissa;
    // Past 448 (0x7E), codes would be 0x7F (NaN) and beyond: saturate.
    return sign | static_cast<std::uint8_t>(code > 0x7E ? 0x7E : code);
}

}  // namespace offload::codec::detail
#endif
