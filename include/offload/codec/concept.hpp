#pragma once
// A transfer codec is the fifth policy kind: how a streamed buffer's bytes are
// stored on the host and moved over the link. The host encodes a buffer once;
// after each copy the device decodes it into the layout and dtype the user's
// compute reads (offload/codec/cuda/decode.hpp). Every codec has a CPU
// reference decode, which the host backend runs and the GPU decode must match
// bit for bit. docs/codecs.md describes each format byte by byte.
#include <concepts>
#include <cstddef>
#include <string_view>

#include <offload/policy_kind.hpp>
#include <offload/tensor.hpp>

namespace offload::codec {

enum class format { none, int8, fp8_e4m3, int4, lossless_bf16 };

constexpr char const* format_name(format f) noexcept {
    switch (f) {
        case format::none: return "none";
        case format::int8: return "int8";
        case format::fp8_e4m3: return "fp8_e4m3";
        case format::int4: return "int4";
        case format::lossless_bf16: return "lossless";
    }
    return "unknown";
}

// applies_to: whether the codec encodes this buffer (a buffer it does not
//   apply to is moved raw). encode: writes at most max_encoded_bytes(t) bytes
//   and returns how many; a lossy codec throws codec_error on non-finite input.
// decode: the CPU reference; throws codec_error when the encoded bytes are
//   short or malformed, and never reads or writes out of bounds.
template <class C>
concept codec_policy =
    offload::detail::announces<C, policy_kind::codec> &&
    requires(tensor_info const& t, void const* original, std::byte* encoded_out, std::byte const* encoded,
             std::size_t encoded_bytes, void* decoded) {
        { C::name } -> std::convertible_to<std::string_view>;
        { C::format } -> std::convertible_to<codec::format>;
        { C::lossless } -> std::convertible_to<bool>;
        { C::applies_to(t) } noexcept -> std::same_as<bool>;
        { C::max_encoded_bytes(t) } noexcept -> std::same_as<std::size_t>;
        { C::encode(t, original, encoded_out) } -> std::same_as<std::size_t>;
        C::decode(t, encoded, encoded_bytes, decoded);
    };

}  // namespace offload::codec
