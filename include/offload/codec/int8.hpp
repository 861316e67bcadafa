#pragma once
// Symmetric int8 with one fp32 scale per output row: scale = max|row| / 127,
// q = round-to-nearest-even(x / scale) in [-127, 127], decoded as bf16(q * scale).
// Half the bytes of bf16; each element is off by at most scale / 2 before the
// bf16 rounding of the result (docs/codecs.md).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include <offload/codec/concept.hpp>
#include <offload/codec/detail/row_scaled.hpp>

namespace offload::codec {

namespace detail {
struct int8_code {
    static constexpr char const* name = "int8";
    static constexpr float range = 127.0f;
    static std::uint8_t quantize(float v) {
        float const q = std::clamp(std::nearbyint(v), -127.0f, 127.0f);
        return static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
    }
    static float value(std::uint8_t c) noexcept { return static_cast<float>(static_cast<std::int8_t>(c)); }
    // -128 is never written: the range is symmetric.
    static bool valid(std::uint8_t c) noexcept { return c != 0x80u; }
};
}  // namespace detail

struct int8 {
    using policy_kind = offload::policy_kind::codec;
    static constexpr char const* name = "int8";
    static constexpr codec::format format = codec::format::int8;
    static constexpr bool lossless = false;

    static bool applies_to(tensor_info const& t) noexcept { return detail::encodable(t); }
    static std::size_t max_encoded_bytes(tensor_info const& t) noexcept {
        return detail::row_scaled<detail::int8_code>::max_encoded_bytes(t);
    }
    static std::size_t encode(tensor_info const& t, void const* src_bf16, std::byte* dst) {
        return detail::row_scaled<detail::int8_code>::encode(t, src_bf16, dst);
    }
    static void decode(tensor_info const& t, std::byte const* src, std::size_t encoded_bytes, void* dst_bf16) {
        detail::row_scaled<detail::int8_code>::decode(t, src, encoded_bytes, dst_bf16);
    }
};

static_assert(codec_policy<int8>);

}  // namespace offload::codec
