#pragma once
// Stored weight elements (bf16, fp16, fp32) read as float, exactly. Reads go
// through memcpy: a tensor in a mapped safetensors file need not be aligned.
#include <bit>
#include <cstdint>
#include <cstring>

#include <offload/tensor.hpp>

namespace llama {

inline float bf16_bits_to_float(std::uint16_t b) { return std::bit_cast<float>(std::uint32_t{b} << 16); }

inline float fp16_bits_to_float(std::uint16_t h) {
    std::uint32_t const sign = std::uint32_t{h & 0x8000u} << 16;
    std::uint32_t const exponent = (h >> 10) & 0x1fu;
    std::uint32_t const mantissa = h & 0x3ffu;
    if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
    if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float const magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
}

// One element type's reading, for loops specialised on it.
struct bf16_reader {
    static float at(void const* p, std::size_t i) {
        std::uint16_t b;
        std::memcpy(&b, static_cast<char const*>(p) + 2 * i, 2);
        return bf16_bits_to_float(b);
    }
};
struct fp16_reader {
    static float at(void const* p, std::size_t i) {
        std::uint16_t b;
        std::memcpy(&b, static_cast<char const*>(p) + 2 * i, 2);
        return fp16_bits_to_float(b);
    }
};
struct fp32_reader {
    static float at(void const* p, std::size_t i) {
        float f;
        std::memcpy(&f, static_cast<char const*>(p) + 4 * i, 4);
        return f;
    }
};

// Calls fn(reader{}) with the reader of type t.
template <class Fn>
decltype(auto) with_reader(offload::dtype t, Fn&& fn) {
    switch (t) {
        case offload::dtype::bf16: return fn(bf16_reader{});
        case offload::dtype::fp16: return fn(fp16_reader{});
        case offload::dtype::fp32: break;
    }
    return fn(fp32_reader{});
}

}  // namespace llama
