// The launches behind offload/codec/cuda/decode.hpp (library offload::codec_cuda).
// Indices are 32-bit where the buffer allows it: 64-bit division costs the
// kernels tens of instructions per piece.
#include <offload/codec/cuda/decode.hpp>
#include <offload/codec/cuda/kernels.cuh>

#include <cstddef>
#include <cstdint>
#include <limits>

namespace offload::codec::cuda::launch {

namespace {

// Room for a piece past the last element without overflowing the index.
bool fits_32_bits(std::size_t elements) { return elements <= std::numeric_limits<std::uint32_t>::max() - 1024; }

unsigned blocks_for(std::size_t threads) {
    return static_cast<unsigned>((threads + kernels::threads_per_block - 1) / kernels::threads_per_block);
}

template <class Index>
void row_scaled_as(bool e4m3, std::uint8_t const* codes, float const* scales, std::size_t cols, std::size_t elements,
                   std::uint16_t* dst, cudaStream_t stream) {
    unsigned const blocks = blocks_for((elements + kernels::row_scaled_piece - 1) / kernels::row_scaled_piece);
    if (e4m3)
        kernels::row_scaled_decode<true, Index><<<blocks, kernels::threads_per_block, 0, stream>>>(
            codes, scales, static_cast<Index>(elements), static_cast<Index>(cols), dst);
    else
        kernels::row_scaled_decode<false, Index><<<blocks, kernels::threads_per_block, 0, stream>>>(
            codes, scales, static_cast<Index>(elements), static_cast<Index>(cols), dst);
}

}  // namespace

void row_scaled(bool e4m3, std::uint8_t const* codes, float const* scales, std::size_t rows, std::size_t cols,
                std::uint16_t* dst, cudaStream_t stream) {
    std::size_t const elements = rows * cols;
    if (fits_32_bits(elements))
        row_scaled_as<std::uint32_t>(e4m3, codes, scales, cols, elements, dst, stream);
    else
        row_scaled_as<std::uint64_t>(e4m3, codes, scales, cols, elements, dst, stream);
}

void int4(std::uint8_t const* codes, float const* scales, std::size_t rows, std::size_t cols, std::uint16_t* dst,
          cudaStream_t stream) {
    std::size_t const elements = rows * cols;
    std::size_t const groups_per_row = (cols + 127) / 128;
    unsigned const blocks = blocks_for((elements + kernels::int4_piece - 1) / kernels::int4_piece);
    if (fits_32_bits(elements))
        kernels::int4_decode<std::uint32_t><<<blocks, kernels::threads_per_block, 0, stream>>>(
            codes, scales, static_cast<std::uint32_t>(elements), static_cast<std::uint32_t>(cols),
            static_cast<std::uint32_t>(groups_per_row), dst);
    else
        kernels::int4_decode<std::uint64_t><<<blocks, kernels::threads_per_block, 0, stream>>>(
            codes, scales, elements, cols, groups_per_row, dst);
}

void lossless(std::uint8_t const* sign_mantissa, std::uint8_t const* codes, std::uint8_t const* bases,
              std::uint32_t const* escape_offsets, std::uint8_t const* escapes, std::size_t escape_capacity,
              std::size_t elements, std::uint16_t* dst, cudaStream_t stream) {
    std::size_t const warps = (elements + 511) / 512;
    unsigned const blocks = blocks_for(warps * 32);
    if (fits_32_bits(elements) && escape_capacity <= std::numeric_limits<std::uint32_t>::max())
        kernels::lossless_decode<std::uint32_t><<<blocks, kernels::threads_per_block, 0, stream>>>(
            sign_mantissa, codes, bases, escape_offsets, escapes, static_cast<std::uint32_t>(escape_capacity),
            static_cast<std::uint32_t>(elements), dst);
    else
        kernels::lossless_decode<std::uint64_t><<<blocks, kernels::threads_per_block, 0, stream>>>(
            sign_mantissa, codes, bases, escape_offsets, escapes, escape_capacity, elements, dst);
}

}  // namespace offload::codec::cuda::launch
