#pragma once
// Symmetric int4 in groups of 128 elements along a row (the input dimension),
// one fp32 scale per group: scale = max|group| / 7, q = round-to-nearest-even
// (x / scale) in [-7, 7], stored as the nibble q + 8, two per byte, low nibble
// first; decoded as bf16(q * scale). 0.266 of the bytes of bf16 for rows that
// are a multiple of 128 long; each element is off by at most scale / 2 before
// the bf16 rounding of the result (docs/codecs.md).
//
// The scale is fp32, not bf16: it is exact, so the bound holds for every group
// (a bf16 scale of a group of bf16 subnormals can round to zero), and it costs
// 2 bytes more per 64, 3% of the encoded size.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <offload/codec/concept.hpp>
#include <offload/codec/detail/bits.hpp>
#include <offload/codec/detail/check.hpp>
#include <offload/codec/detail/layout.hpp>

namespace offload::codec {

struct int4 {
    using policy_kind = offload::policy_kind::codec;
    static constexpr char const* name = "int4";
    static constexpr codec::format format = codec::format::int4;
    static constexpr bool lossless = false;

    static bool applies_to(tensor_info const& t) noexcept { return detail::encodable(t); }
    static std::size_t max_encoded_bytes(tensor_info const& t) noexcept {
        return detail::int4_layout{t.rows, t.cols}.bytes();
    }

    static std::size_t encode(tensor_info const& t, void const* src, std::byte* dst) {
        detail::require_bf16(name, t);
        detail::int4_layout const layout{t.rows, t.cols};
        auto* codes = reinterpret_cast<std::uint8_t*>(dst);
        std::memset(dst, 0, layout.scales());  // nibbles are or-ed in; the padding stays zero
        for (std::size_t r = 0; r < t.rows; ++r)
            for (std::size_t g = 0; g < layout.groups_per_row(); ++g) {
                std::size_t const first = r * t.cols + g * detail::int4_group_size;
                std::size_t const last = r * t.cols + std::min(t.cols, (g + 1) * detail::int4_group_size);
                float largest = 0.0f;
                for (std::size_t i = first; i < last; ++i) {
                    float const x = detail::bf16_to_float(detail::load_bf16(src, i));
                    if (!std::isfinite(x)) detail::fail_non_finite(name, t, i, x);
                    largest = std::max(largest, std::fabs(x));
                }
                float const scale = largest / 7.0f;
                for (std::size_t i = first; i < last; ++i) {
                    float const q = scale == 0.0f ? 0.0f
                                                  : std::clamp(std::nearbyint(detail::bf16_to_float(detail::load_bf16(src, i)) / scale),
                                                               -7.0f, 7.0f);
                    auto const nibble = static_cast<std::uint8_t>(static_cast<int>(q) + 8);
                    codes[i / 2] |= static_cast<std::uint8_t>(i % 2 == 0 ? nibble : nibble << 4);
                }
                detail::store_f32(dst + layout.scales() + 4 * (r * layout.groups_per_row() + g), scale);
            }
        return layout.bytes();
    }

    static void decode(tensor_info const& t, std::byte const* src, std::size_t encoded_bytes, void* dst) {
        detail::require_bf16(name, t);
        detail::int4_layout const layout{t.rows, t.cols};
        detail::require_encoded_bytes(name, t, encoded_bytes, layout.bytes());
        auto const* codes = reinterpret_cast<std::uint8_t const*>(src);
        for (std::size_t r = 0; r < t.rows; ++r)
            for (std::size_t g = 0; g < layout.groups_per_row(); ++g) {
                float const scale = detail::load_f32(src + layout.scales() + 4 * (r * layout.groups_per_row() + g));
                detail::require_scale(name, t, scale, "row " + std::to_string(r) + ", group " + std::to_string(g));
                std::size_t const first = r * t.cols + g * detail::int4_group_size;
                std::size_t const last = r * t.cols + std::min(t.cols, (g + 1) * detail::int4_group_size);
                for (std::size_t i = first; i < last; ++i) {
                    unsigned const nibble = i % 2 == 0 ? codes[i / 2] & 0xFu : codes[i / 2] >> 4;
                    // Nibble 0 (-8) is never written: the range is symmetric.
                    if (nibble == 0) detail::fail(name, t, "malformed code 0 at " + detail::position(t, i));
                    auto const q = static_cast<float>(static_cast<int>(nibble) - 8);
                    detail::store_bf16(dst, i, detail::float_to_bf16(detail::multiply(q, scale)));
                }
            }
    }
};

static_assert(codec_policy<int4>);

}  // namespace offload::codec
