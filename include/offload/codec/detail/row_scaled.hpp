#pragma once
// The CPU reference of the two codecs with one code byte per element and one
// fp32 scale per row (int8, fp8_e4m3); Code says how a byte maps to a number:
//   Code::name, Code::range (the code of largest magnitude stands for
//   range * scale), Code::quantize(float) -> byte (round to nearest even),
//   Code::value(byte) -> float (exact), Code::valid(byte).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <offload/codec/detail/bits.hpp>
#include <offload/codec/detail/check.hpp>
#include <offload/codec/detail/layout.hpp>
#include <offload/tensor.hpp>

namespace offload::codec::detail {

template <class Code>
struct row_scaled {
    static std::size_t max_encoded_bytes(tensor_info const& t) noexcept {
        return row_scaled_layout{t.rows, t.cols}.bytes();
    }

    static std::size_t encode(tensor_info const& t, void const* src, std::byte* dst) {
        require_bf16(Code::name, t);
        row_scaled_layout const layout{t.rows, t.cols};
        auto* codes = reinterpret_cast<std::uint8_t*>(dst);
        for (std::size_t r = 0; r < t.rows; ++r) {
            std::size_t const first = r * t.cols;
            float largest = 0.0f;
            for (std::size_t i = first; i < first + t.cols; ++i) {
                float const x = bf16_to_float(load_bf16(src, i));
                if (!std::isfinite(x)) fail_non_finite(Code::name, t, i, x);
                largest = std::max(largest, std::fabs(x));
            }
            float const scale = largest / Code::range;
            for (std::size_t i = first; i < first + t.cols; ++i)
                codes[i] = scale == 0.0f ? Code::quantize(0.0f) : Code::quantize(bf16_to_float(load_bf16(src, i)) / scale);
            store_f32(dst + layout.scales() + 4 * r, scale);
        }
        std::memset(dst + layout.elements(), 0, layout.scales() - layout.elements());
        return layout.bytes();
    }

    static void decode(tensor_info const& t, std::byte const* src, std::size_t encoded_bytes, void* dst) {
        require_bf16(Code::name, t);
        row_scaled_layout const layout{t.rows, t.cols};
        require_encoded_bytes(Code::name, t, encoded_bytes, layout.bytes());
        auto const* codes = reinterpret_cast<std::uint8_t const*>(src);
        for (std::size_t r = 0; r < t.rows; ++r) {
            float const scale = load_f32(src + layout.scales() + 4 * r);
            require_scale(Code::name, t, scale, "row " + std::to_string(r));
            for (std::size_t i = r * t.cols; i < (r + 1) * t.cols; ++i) {
                if (!Code::valid(codes[i]))
                    fail(Code::name, t, "malformed code " + std::to_string(codes[i]) + " at " + position(t, i));
                store_bf16(dst, i, float_to_bf16(multiply(Code::value(codes[i]), scale)));
            }
        }
    }
};

}  // namespace offload::codec::detail
