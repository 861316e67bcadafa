#pragma once
// The checks every codec makes, and the one way it reports a failure: a
// codec_error that names the codec and the buffer.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <offload/errors.hpp>
#include <offload/tensor.hpp>

namespace offload::codec::detail {

// The encoded formats are little-endian and are written with memcpy.
static_assert(std::endian::native == std::endian::little, "offload codecs assume a little-endian host");

[[noreturn]] inline void fail(char const* codec, tensor_info const& t, std::string const& what) {
    throw codec_error("offload: codec " + std::string(codec) + ", buffer '" + t.name + "': " + what);
}

inline void require_bf16(char const* codec, tensor_info const& t) {
    if (t.type != dtype::bf16)
        fail(codec, t, std::string("holds ") + dtype_name(t.type) + ", the codec encodes bf16 only");
}

inline void require_encoded_bytes(char const* codec, tensor_info const& t, std::size_t have, std::size_t need) {
    if (have < need)
        fail(codec, t, "encoded input is " + std::to_string(have) + " bytes, the format needs " +
                           std::to_string(need) + " (truncated, or encoded for another shape)");
}

inline std::string position(tensor_info const& t, std::size_t element) {
    return "row " + std::to_string(element / t.cols) + ", col " + std::to_string(element % t.cols);
}

// A lossy codec cannot represent inf or NaN.
[[noreturn]] inline void fail_non_finite(char const* codec, tensor_info const& t, std::size_t element, float x) {
    char const* what = std::isnan(x) ? "NaN" : (x > 0 ? "+inf" : "-inf");
    fail(codec, t, std::string("non-finite input (") + what + ") at " + position(t, element) +
                       "; a lossy codec encodes finite values only");
}

inline std::uint16_t load_bf16(void const* base, std::size_t i) noexcept {
    std::uint16_t v;
    std::memcpy(&v, static_cast<std::byte const*>(base) + 2 * i, 2);
    return v;
}
inline void store_bf16(void* base, std::size_t i, std::uint16_t v) noexcept {
    std::memcpy(static_cast<std::byte*>(base) + 2 * i, &v, 2);
}
inline float load_f32(std::byte const* p) noexcept {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
inline void store_f32(std::byte* p, float v) noexcept { std::memcpy(p, &v, 4); }
inline std::uint32_t load_u32(std::byte const* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline void store_u32(std::byte* p, std::uint32_t v) noexcept { std::memcpy(p, &v, 4); }

// A stored scale must be finite and not negative (the encoder writes
// max|x| / range, +0 for an all-zero row or group).
inline void require_scale(char const* codec, tensor_info const& t, float scale, std::string const& where) {
    if (!std::isfinite(scale) || std::signbit(scale))
        fail(codec, t, "malformed scale " + std::to_string(scale) + " for " + where);
}

// True when a codec may encode t: bf16, marked compressible, not empty.
inline bool encodable(tensor_info const& t) noexcept {
    return t.type == dtype::bf16 && t.compressible && t.rows * t.cols > 0;
}

}  // namespace offload::codec::detail
