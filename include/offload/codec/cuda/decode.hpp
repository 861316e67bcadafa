#pragma once
// Device decode of an encoded buffer into bf16, enqueued on a stream: one
// kernel launch (a device-to-device copy for codec::none), no host
// synchronisation, no allocation, so it may be captured in a CUDA graph. Plain
// C++ against the CUDA runtime: the kernels are compiled into the library
// offload::codec_cuda (which offload::cuda links), from src/codec_cuda.cu.
//
// The sizes are checked here, on the host, before the launch: encoded_bytes
// must hold the format's sections for t, and both pointers must be 16-byte
// aligned (the kernels' loads and stores are 16 bytes wide). The kernels do
// not validate the encoded data itself (the CPU reference decode does, and the
// library encodes on the host); malformed data decodes to wrong values but
// never makes a kernel read outside [src, src + encoded_bytes) or write
// outside the t.bytes() at dst.
#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

#include <offload/codec/concept.hpp>
#include <offload/codec/detail/check.hpp>
#include <offload/codec/detail/layout.hpp>
#include <offload/detail/cuda_check.hpp>
#include <offload/tensor.hpp>

namespace offload::codec::cuda {

namespace launch {
// Defined in src/codec_cuda.cu; each enqueues one kernel and checks nothing.
void row_scaled(bool e4m3, std::uint8_t const* codes, float const* scales, std::size_t rows, std::size_t cols,
                std::uint16_t* dst, cudaStream_t stream);
void int4(std::uint8_t const* codes, float const* scales, std::size_t rows, std::size_t cols, std::uint16_t* dst,
          cudaStream_t stream);
void lossless(std::uint8_t const* sign_mantissa, std::uint8_t const* codes, std::uint8_t const* bases,
              std::uint32_t const* escape_offsets, std::uint8_t const* escapes, std::size_t escape_capacity,
              std::size_t elements, std::uint16_t* dst, cudaStream_t stream);
}  // namespace launch

inline void decode(format f, tensor_info const& t, std::byte const* src_device, std::size_t encoded_bytes,
                   void* dst_device, cudaStream_t stream) {
    char const* const name = format_name(f);
    // Built only when a call fails: decode runs for every streamed buffer of every pass.
    auto const what = [&] { return std::string("decoding buffer '") + t.name + "' (codec " + name + ") on the device"; };
    if (f == format::none) {
        codec::detail::require_encoded_bytes(name, t, encoded_bytes, t.bytes());
        if (t.bytes() > 0)
            OFFLOAD_CUDA_TRY(cudaMemcpyAsync(dst_device, src_device, t.bytes(), cudaMemcpyDeviceToDevice, stream), what());
        return;
    }
    codec::detail::require_bf16(name, t);
    if (t.elements() == 0) return;
    if (reinterpret_cast<std::uintptr_t>(src_device) % 16 != 0 || reinterpret_cast<std::uintptr_t>(dst_device) % 16 != 0)
        codec::detail::fail(name, t, "device decode needs 16-byte aligned source and destination");
    auto const* src = reinterpret_cast<std::uint8_t const*>(src_device);
    auto* dst = static_cast<std::uint16_t*>(dst_device);
    switch (f) {
        case format::int8:
        case format::fp8_e4m3: {
            codec::detail::row_scaled_layout const l{t.rows, t.cols};
            codec::detail::require_encoded_bytes(name, t, encoded_bytes, l.bytes());
            launch::row_scaled(f == format::fp8_e4m3, src, reinterpret_cast<float const*>(src + l.scales()), t.rows,
                               t.cols, dst, stream);
            break;
        }
        case format::int4: {
            codec::detail::int4_layout const l{t.rows, t.cols};
            codec::detail::require_encoded_bytes(name, t, encoded_bytes, l.bytes());
            launch::int4(src, reinterpret_cast<float const*>(src + l.scales()), t.rows, t.cols, dst, stream);
            break;
        }
        case format::lossless_bf16: {
            codec::detail::lossless_layout const l{t.elements()};
            codec::detail::require_encoded_bytes(name, t, encoded_bytes, l.escapes());
            launch::lossless(src + l.sign_mantissa(), src + l.exponent_codes(), src + l.bases(),
                             reinterpret_cast<std::uint32_t const*>(src + l.escape_offsets()), src + l.escapes(),
                             encoded_bytes - l.escapes(), t.elements(), dst, stream);
            break;
        }
        case format::none: break;
    }
    OFFLOAD_CUDA_TRY(cudaGetLastError(), "launching the kernel for " + what());
}

}  // namespace offload::codec::cuda
