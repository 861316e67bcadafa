#pragma once
// The CPU reference decode of any format, chosen at run time: what the host
// backend runs on its stream where the CUDA backend launches a kernel.
#include <cstddef>

#include <offload/codec/concept.hpp>
#include <offload/codec/fp8_e4m3.hpp>
#include <offload/codec/int4.hpp>
#include <offload/codec/int8.hpp>
#include <offload/codec/lossless.hpp>
#include <offload/codec/none.hpp>

namespace offload::codec {

inline void decode_on_host(format f, tensor_info const& t, std::byte const* src, std::size_t encoded_bytes, void* dst) {
    switch (f) {
        case format::none: return none::decode(t, src, encoded_bytes, dst);
        case format::int8: return int8::decode(t, src, encoded_bytes, dst);
        case format::fp8_e4m3: return fp8_e4m3::decode(t, src, encoded_bytes, dst);
        case format::int4: return int4::decode(t, src, encoded_bytes, dst);
        case format::lossless_bf16: return lossless_bf16::decode(t, src, encoded_bytes, dst);
    }
}

}  // namespace offload::codec
