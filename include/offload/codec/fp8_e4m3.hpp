#pragma once
// fp8 e4m3fn with one fp32 scale per output row: scale = max|row| / 448, each
// x / scale rounded to nearest even in e4m3 (saturating at +-448), decoded as
// bf16(e4m3 * scale). Half the bytes of bf16; relative error per element at
// most 2^-4 (2^-10 * scale in e4m3's subnormal range), docs/codecs.md.
#include <cstddef>
#include <cstdint>

#include <offload/codec/concept.hpp>
#include <offload/codec/detail/bits.hpp>
#include <offload/codec/detail/row_scaled.hpp>

namespace offload::codec {

namespace detail {
struct e4m3_code {
    static constexpr char const* name = "fp8_e4m3";
    static constexpr float range = 448.0f;
    static std::uint8_t quantize(float v) { return float_to_e4m3(v); }
    static float value(std::uint8_t c) noexcept { return e4m3_to_float(c); }
    static bool valid(std::uint8_t c) noexcept { return !e4m3_is_nan(c); }
};
}  // namespace detail

struct fp8_e4m3 {
    using policy_kind = offload::policy_kind::codec;
    static constexpr char const* name = "fp8_e4m3";
    static constexpr codec::format format = codec::format::fp8_e4m3;
    static constexpr bool lossless = false;

    static bool applies_to(tensor_info const& t) noexcept { return detail::encodable(t); }
    static std::size_t max_encoded_bytes(tensor_info const& t) noexcept {
        return detail::row_scaled<detail::e4m3_code>::max_encoded_bytes(t);
    }
    static std::size_t encode(tensor_info const& t, void const* src_bf16, std::byte* dst) {
        return detail::row_scaled<detail::e4m3_code>::encode(t, src_bf16, dst);
    }
    static void decode(tensor_info const& t, std::byte const* src, std::size_t encoded_bytes, void* dst_bf16) {
        detail::row_scaled<detail::e4m3_code>::decode(t, src, encoded_bytes, dst_bf16);
    }
};

static_assert(codec_policy<fp8_e4m3>);

}  // namespace offload::codec
