#pragma once
// No codec: every buffer is moved as it is. The default; it applies to no
// buffer, so the scheduler's decode step compiles away.
#include <cstddef>
#include <cstring>

#include <offload/codec/concept.hpp>
#include <offload/codec/detail/check.hpp>

namespace offload::codec {

struct none {
    using policy_kind = offload::policy_kind::codec;
    static constexpr char const* name = "none";
    static constexpr codec::format format = codec::format::none;
    static constexpr bool lossless = true;

    static bool applies_to(tensor_info const&) noexcept { return false; }
    static std::size_t max_encoded_bytes(tensor_info const& t) noexcept { return t.bytes(); }
    static std::size_t encode(tensor_info const& t, void const* src, std::byte* dst) {
        if (t.bytes() > 0) std::memcpy(dst, src, t.bytes());
        return t.bytes();
    }
    static void decode(tensor_info const& t, std::byte const* src, std::size_t encoded_bytes, void* dst) {
        detail::require_encoded_bytes(name, t, encoded_bytes, t.bytes());
        if (t.bytes() > 0) std::memcpy(dst, src, t.bytes());
    }
};

static_assert(codec_policy<none>);

}  // namespace offload::codec
