#pragma once
// The decode kernels of the transfer codecs (nvcc only; g++ code calls
// offload/codec/cuda/decode.hpp, whose launches src/codec_cuda.cu compiles into
// offload::codec_cuda). They read the formats of offload/codec/detail/layout.hpp
// and compute each element with the same functions as the CPU reference
// (offload/codec/detail/bits.hpp), so their output is the same bits.
//
// Memory-bound by design: each thread decodes one aligned piece (16 or 32
// elements) with 16-byte loads of the codes and 16-byte stores of the bf16
// output; scales are 4-byte loads that the cache shares between neighbours;
// no atomics, no shared memory, no host synchronisation. The encoded sections a
// kernel reads in 16-byte pieces are padded (layout.hpp), so only the output
// of the last piece needs a bounds check.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include <offload/codec/detail/bits.hpp>

namespace offload::codec::cuda::kernels {

inline constexpr unsigned threads_per_block = 256;
inline constexpr unsigned row_scaled_piece = 16;  // elements per thread: one 16-byte load of codes
inline constexpr unsigned int4_piece = 32;        // 16 bytes of nibbles
inline constexpr unsigned lossless_piece = 16;    // a warp decodes a block of 512

__device__ __forceinline__ std::uint32_t word(uint4 const& v, unsigned i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}
__device__ __forceinline__ std::uint8_t byte_of(uint4 const& v, unsigned i) {
    return static_cast<std::uint8_t>(word(v, i / 4) >> (8 * (i % 4)));
}

// Writes count (<= N) decoded elements at dst + first: whole 16-byte stores
// when the piece is complete, element by element at the end of the buffer.
template <unsigned N, class Index>
__device__ __forceinline__ void store_piece(std::uint16_t* dst, Index first, unsigned count, std::uint16_t const (&v)[N]) {
    if (count == N) {
        auto* out = reinterpret_cast<uint4*>(dst + first);
#pragma unroll
        for (unsigned k = 0; k < N / 8; ++k)
            out[k] = make_uint4(v[8 * k] | std::uint32_t{v[8 * k + 1]} << 16, v[8 * k + 2] | std::uint32_t{v[8 * k + 3]} << 16,
                                v[8 * k + 4] | std::uint32_t{v[8 * k + 5]} << 16, v[8 * k + 6] | std::uint32_t{v[8 * k + 7]} << 16);
    } else {
        for (unsigned j = 0; j < count; ++j) dst[first + j] = v[j];
    }
}

// int8 (E4m3 false) and fp8_e4m3 (true): code bytes, one fp32 scale per row.
template <bool E4m3, class Index>
__global__ void __launch_bounds__(threads_per_block)
    row_scaled_decode(std::uint8_t const* __restrict__ codes, float const* __restrict__ scales, Index elements, Index cols,
                      std::uint16_t* __restrict__ dst) {
    Index const first = (static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x) * row_scaled_piece;
    if (first >= elements) return;
    unsigned const count = elements - first < row_scaled_piece ? static_cast<unsigned>(elements - first) : row_scaled_piece;
    uint4 const packed = *reinterpret_cast<uint4 const*>(codes + first);
    Index row = first / cols;
    Index col = first - row * cols;
    float scale = scales[row];
    std::uint16_t out[row_scaled_piece];
#pragma unroll
    for (unsigned j = 0; j < row_scaled_piece; ++j) {
        if (j < count) {
            if (col == cols) {  // the piece runs into the next row
                col = 0;
                scale = scales[++row];
            }
            std::uint8_t const c = byte_of(packed, j);
            float const value = E4m3 ? detail::e4m3_to_float(c) : static_cast<float>(static_cast<std::int8_t>(c));
            out[j] = detail::float_to_bf16(detail::multiply(value, scale));
            ++col;
        }
    }
    store_piece(dst, first, count, out);
}

// int4: nibbles (low first, q + 8), one fp32 scale per group of 128 along a row.
template <class Index>
__global__ void __launch_bounds__(threads_per_block)
    int4_decode(std::uint8_t const* __restrict__ codes, float const* __restrict__ scales, Index elements, Index cols,
                Index groups_per_row, std::uint16_t* __restrict__ dst) {
    Index const first = (static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x) * int4_piece;
    if (first >= elements) return;
    unsigned const count = elements - first < int4_piece ? static_cast<unsigned>(elements - first) : int4_piece;
    uint4 const packed = *reinterpret_cast<uint4 const*>(codes + first / 2);
    Index row = first / cols;
    Index col = first - row * cols;
    float scale = scales[row * groups_per_row + col / 128];
    std::uint16_t out[int4_piece];
#pragma unroll
    for (unsigned j = 0; j < int4_piece; ++j) {
        if (j < count) {
            if (col == cols) {
                col = 0;
                scale = scales[++row * groups_per_row];
            } else if (col % 128 == 0) {
                scale = scales[row * groups_per_row + col / 128];
            }
            unsigned const nibble = (byte_of(packed, j / 2) >> (4 * (j % 2))) & 0xFu;
            out[j] = detail::float_to_bf16(detail::multiply(static_cast<float>(static_cast<int>(nibble) - 8), scale));
            ++col;
        }
    }
    store_piece(dst, first, count, out);
}

// lossless_bf16: one warp per block of 512 elements, 16 per lane. A lane finds
// where its escapes start in the side list by a prefix sum over the warp of
// the escapes of the lanes before it. escape_capacity (the bytes the side list
// has) bounds every read even of malformed input.
template <class Index>
__global__ void __launch_bounds__(threads_per_block)
    lossless_decode(std::uint8_t const* __restrict__ sign_mantissa, std::uint8_t const* __restrict__ codes,
                    std::uint8_t const* __restrict__ bases, std::uint32_t const* __restrict__ escape_offsets,
                    std::uint8_t const* __restrict__ escapes, Index escape_capacity, Index elements,
                    std::uint16_t* __restrict__ dst) {
    constexpr unsigned block_size = 512, plane_bytes = block_size / 8;
    Index const block = (static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
    unsigned const lane = threadIdx.x % 32;
    if (block * block_size >= elements) return;  // the same for the whole warp
    Index const first = block * block_size + lane * lossless_piece;
    uint4 const sm = *reinterpret_cast<uint4 const*>(sign_mantissa + first);
    std::uint8_t const* planes = codes + block * 3 * plane_bytes + 2 * lane;
    unsigned const p0 = *reinterpret_cast<std::uint16_t const*>(planes);
    unsigned const p1 = *reinterpret_cast<std::uint16_t const*>(planes + plane_bytes);
    unsigned const p2 = *reinterpret_cast<std::uint16_t const*>(planes + 2 * plane_bytes);
    unsigned const escaped = ~(p0 | p1 | p2) & 0xFFFFu;
    unsigned const own = __popc(escaped);
    unsigned before = own;
#pragma unroll
    for (unsigned d = 1; d < 32; d *= 2) {
        unsigned const other = __shfl_up_sync(0xFFFFFFFFu, before, d);
        if (lane >= d) before += other;
    }
    before -= own;
    Index next_escape = static_cast<Index>(escape_offsets[block]) + before;
    unsigned const base = bases[block];
    unsigned const count = first >= elements ? 0u
                           : elements - first < lossless_piece ? static_cast<unsigned>(elements - first)
                                                               : lossless_piece;
    std::uint16_t out[lossless_piece];
#pragma unroll
    for (unsigned j = 0; j < lossless_piece; ++j) {
        unsigned const code = ((p0 >> j) & 1u) | ((p1 >> j) & 1u) << 1 | ((p2 >> j) & 1u) << 2;
        unsigned exponent = base + code - 1;
        if (code == 0) {
            exponent = next_escape < escape_capacity ? escapes[next_escape] : 0u;
            ++next_escape;
        }
        unsigned const b = byte_of(sm, j);
        out[j] = static_cast<std::uint16_t>((b & 0x80u) << 8 | (exponent & 0xFFu) << 7 | (b & 0x7Fu));
    }
    if (count > 0) store_piece(dst, first, count, out);
}

}  // namespace offload::codec::cuda::kernels
