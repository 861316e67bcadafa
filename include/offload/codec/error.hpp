#pragma once
// The error a lossy codec introduced in a buffer: ||original - decoded||_2 /
// ||original||_2 over its bf16 elements, accumulated in double. Elements that
// decode to the same bits add nothing (so a lossless round trip measures 0,
// infinities and NaNs included); an all-zero original that decodes exactly
// measures 0, and one that does not measures +infinity.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include <offload/codec/detail/bits.hpp>
#include <offload/codec/detail/check.hpp>
#include <offload/tensor.hpp>

namespace offload::codec {

inline double relative_l2_error(tensor_info const& t, void const* original_bf16, void const* decoded_bf16) {
    detail::require_bf16("relative_l2_error", t);
    double difference = 0.0;
    double norm = 0.0;
    for (std::size_t i = 0; i < t.elements(); ++i) {
        std::uint16_t const a = detail::load_bf16(original_bf16, i);
        std::uint16_t const b = detail::load_bf16(decoded_bf16, i);
        double const x = detail::bf16_to_float(a);
        norm += x * x;
        if (a != b) {
            double const d = x - static_cast<double>(detail::bf16_to_float(b));
            difference += d * d;
        }
    }
    // 0 / 0 would be NaN; a difference over a zero norm is +infinity.
    return difference == 0.0 ? 0.0 : std::sqrt(difference / norm);
}

}  // namespace offload::codec
