#pragma once
// Lossless bf16: every bit pattern decodes to itself (NaN payloads, +-inf,
// subnormals, +-0). The sign and the 7 mantissa bits of an element are stored
// as one byte, as they are (they are close to incompressible). The 8 exponent
// bits, which in trained weights carry less than 3 bits of information, become
// a 3-bit code per element relative to a base chosen per block of 512 elements:
// codes 1..7 stand for exponents base..base+6, code 0 for an escape whose
// exponent byte is the next entry of a side list. A per-block index into that
// list lets every block (one warp on the GPU) decode on its own. About 11.3
// bits per element on Gaussian weights; docs/codecs.md has the bytes and the
// measured ratios.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include <offload/codec/concept.hpp>
#include <offload/codec/detail/check.hpp>
#include <offload/codec/detail/layout.hpp>

namespace offload::codec {

struct lossless_bf16 {
    using policy_kind = offload::policy_kind::codec;
    static constexpr char const* name = "lossless";
    static constexpr codec::format format = codec::format::lossless_bf16;
    static constexpr bool lossless = true;

    // The per-block escape indices are uint32.
    static bool applies_to(tensor_info const& t) noexcept {
        return detail::encodable(t) && t.elements() <= std::numeric_limits<std::uint32_t>::max();
    }
    // At worst every element escapes.
    static std::size_t max_encoded_bytes(tensor_info const& t) noexcept {
        return detail::lossless_layout{t.elements()}.bytes(t.elements());
    }

    static std::size_t encode(tensor_info const& t, void const* src, std::byte* dst) {
        detail::require_bf16(name, t);
        if (t.elements() > std::numeric_limits<std::uint32_t>::max())
            detail::fail(name, t, "has " + std::to_string(t.elements()) + " elements, more than the format indexes (2^32 - 1)");
        detail::lossless_layout const layout{t.elements()};
        std::memset(dst, 0, layout.escapes());
        std::uint32_t escapes = 0;
        for (std::size_t b = 0; b < layout.blocks(); ++b) {
            std::size_t const first = b * detail::lossless_block_size;
            std::size_t const count = std::min(detail::lossless_block_size, t.elements() - first);
            unsigned const base = best_base(src, first, count);
            dst[layout.bases() + b] = static_cast<std::byte>(base);
            detail::store_u32(dst + layout.escape_offsets() + 4 * b, escapes);
            std::byte* const planes = dst + layout.exponent_codes() + b * detail::lossless_codes_per_block_bytes;
            for (std::size_t v = 0; v < detail::lossless_block_size; ++v) {
                unsigned code = 1;  // padding past the last element: any code but an escape
                if (v < count) {
                    std::uint16_t const bits = detail::load_bf16(src, first + v);
                    unsigned const exponent = (bits >> 7) & 0xFFu;
                    dst[layout.sign_mantissa() + first + v] = static_cast<std::byte>(((bits >> 8) & 0x80u) | (bits & 0x7Fu));
                    if (exponent >= base && exponent - base < detail::lossless_window) {
                        code = exponent - base + 1;
                    } else {
                        code = 0;
                        dst[layout.escapes() + escapes++] = static_cast<std::byte>(exponent);
                    }
                }
                for (std::size_t p = 0; p < detail::lossless_code_bits; ++p)
                    if ((code >> p) & 1u) planes[p * detail::lossless_plane_bytes + v / 8] |= std::byte{1} << (v % 8);
            }
        }
        detail::store_u32(dst + layout.escape_offsets() + 4 * layout.blocks(), escapes);
        return layout.bytes(escapes);
    }

    static void decode(tensor_info const& t, std::byte const* src, std::size_t encoded_bytes, void* dst) {
        detail::require_bf16(name, t);
        detail::lossless_layout const layout{t.elements()};
        detail::require_encoded_bytes(name, t, encoded_bytes, layout.escapes());
        std::size_t const escape_count = detail::load_u32(src + layout.escape_offsets() + 4 * layout.blocks());
        detail::require_encoded_bytes(name, t, encoded_bytes, layout.bytes(escape_count));
        std::size_t next_escape = 0;
        for (std::size_t b = 0; b < layout.blocks(); ++b) {
            std::string const block = "block " + std::to_string(b);
            unsigned const base = static_cast<unsigned>(src[layout.bases() + b]);
            if (base > detail::lossless_max_base)
                detail::fail(name, t, "malformed base exponent " + std::to_string(base) + " in " + block);
            if (detail::load_u32(src + layout.escape_offsets() + 4 * b) != next_escape)
                detail::fail(name, t, "malformed escape index in " + block);
            std::byte const* const planes = src + layout.exponent_codes() + b * detail::lossless_codes_per_block_bytes;
            std::size_t const first = b * detail::lossless_block_size;
            std::size_t const count = std::min(detail::lossless_block_size, t.elements() - first);
            for (std::size_t v = 0; v < count; ++v) {
                unsigned code = 0;
                for (std::size_t p = 0; p < detail::lossless_code_bits; ++p)
                    code |= ((static_cast<unsigned>(planes[p * detail::lossless_plane_bytes + v / 8]) >> (v % 8)) & 1u) << p;
                unsigned exponent = base + code - 1;
                if (code == 0) {
                    if (next_escape == escape_count) detail::fail(name, t, "more escapes than the side list holds, in " + block);
                    exponent = static_cast<unsigned>(src[layout.escapes() + next_escape++]);
                }
                auto const sm = static_cast<unsigned>(src[layout.sign_mantissa() + first + v]);
                detail::store_bf16(dst, first + v, static_cast<std::uint16_t>(((sm & 0x80u) << 8) | (exponent << 7) | (sm & 0x7Fu)));
            }
        }
        if (next_escape != escape_count) detail::fail(name, t, "malformed escape count");
    }

private:
    // The base whose window of exponents holds the most elements of the block
    // (the lowest such base), so that the fewest escape.
    static unsigned best_base(void const* src, std::size_t first, std::size_t count) {
        std::array<std::size_t, 256> histogram{};
        for (std::size_t v = 0; v < count; ++v) ++histogram[(detail::load_bf16(src, first + v) >> 7) & 0xFFu];
        std::size_t in_window = 0;
        for (unsigned e = 0; e < detail::lossless_window; ++e) in_window += histogram[e];
        std::size_t best = in_window;
        unsigned best_base = 0;
        for (unsigned base = 1; base <= detail::lossless_max_base; ++base) {
            in_window += histogram[base + detail::lossless_window - 1] - histogram[base - 1];
            if (in_window > best) {
                best = in_window;
                best_base = base;
            }
        }
        return best_base;
    }
};

static_assert(codec_policy<lossless_bf16>);

}  // namespace offload::codec
