#pragma once
// Where each section of an encoded buffer starts (docs/codecs.md draws them).
// Every section starts on a 256-byte boundary so that the decode kernels' 16-byte
// loads are aligned, and a section a kernel reads in 16-byte pieces is padded
// with zeros to that boundary, so that the last piece stays inside the buffer.
// All multi-byte fields are little-endian.
#include <cstddef>

namespace offload::codec::detail {

inline constexpr std::size_t section_alignment = 256;

constexpr std::size_t align_section(std::size_t n) noexcept {
    return (n + section_alignment - 1) / section_alignment * section_alignment;
}

// int8 and fp8_e4m3: one code byte per element in row-major order, then one
// fp32 scale per row.
struct row_scaled_layout {
    std::size_t rows;
    std::size_t cols;
    constexpr std::size_t elements() const noexcept { return rows * cols; }
    constexpr std::size_t scales() const noexcept { return align_section(elements()); }
    constexpr std::size_t bytes() const noexcept { return scales() + 4 * rows; }
};

// int4: two codes per byte in row-major element order (element 2k in the low
// nibble of byte k); rows are not padded. Then one fp32 scale per group of
// int4_group_size elements of a row (the last group of a row may be shorter),
// row by row.
inline constexpr std::size_t int4_group_size = 128;

struct int4_layout {
    std::size_t rows;
    std::size_t cols;
    constexpr std::size_t elements() const noexcept { return rows * cols; }
    constexpr std::size_t groups_per_row() const noexcept { return (cols + int4_group_size - 1) / int4_group_size; }
    constexpr std::size_t groups() const noexcept { return rows * groups_per_row(); }
    constexpr std::size_t code_bytes() const noexcept { return (elements() + 1) / 2; }
    constexpr std::size_t scales() const noexcept { return align_section(code_bytes()); }
    constexpr std::size_t bytes() const noexcept { return scales() + 4 * groups(); }
};

// lossless_bf16: the elements in blocks of lossless_block_size (the last block
// padded). Per element one sign+mantissa byte and a 3-bit exponent code; per
// block a base exponent and the index of its first escaped exponent.
inline constexpr std::size_t lossless_block_size = 512;
inline constexpr std::size_t lossless_code_bits = 3;
// Bytes of one bit plane of one block (bit b of every code of the block).
inline constexpr std::size_t lossless_plane_bytes = lossless_block_size / 8;
inline constexpr std::size_t lossless_codes_per_block_bytes = lossless_code_bits * lossless_plane_bytes;
// Codes 1..7 stand for exponents base..base+6; code 0 is an escape.
inline constexpr unsigned lossless_window = (1u << lossless_code_bits) - 1;
inline constexpr unsigned lossless_max_base = 255u - (lossless_window - 1);

struct lossless_layout {
    std::size_t elements;
    constexpr std::size_t blocks() const noexcept {
        return (elements + lossless_block_size - 1) / lossless_block_size;
    }
    constexpr std::size_t sign_mantissa() const noexcept { return 0; }
    constexpr std::size_t exponent_codes() const noexcept { return blocks() * lossless_block_size; }
    constexpr std::size_t bases() const noexcept {
        return exponent_codes() + align_section(blocks() * lossless_codes_per_block_bytes);
    }
    // blocks() + 1 uint32 entries: the last is the number of escapes.
    constexpr std::size_t escape_offsets() const noexcept { return bases() + align_section(blocks()); }
    constexpr std::size_t escapes() const noexcept { return escape_offsets() + align_section(4 * (blocks() + 1)); }
    constexpr std::size_t bytes(std::size_t escape_count) const noexcept { return escapes() + escape_count; }
};

}  // namespace offload::codec::detail
