#pragma once
// The shape of one FFN layer of the example stack and the sizes of its
// buffers. Plain C++: included by both the CUDA and the host versions.
#include <cstddef>
#include <vector>

namespace ffn {

// A Llama-3-8B-shaped FFN block by default.
struct dims {
    std::size_t hidden = 4096, ffn = 14336, batch = 1;
};

// Elements of one layer's buffers, in this order: 0 RMSNorm weight [hidden],
// 1 gate [ffn][hidden], 2 up [ffn][hidden], 3 down [hidden][ffn] (row-major,
// [out][in] like torch.nn.Linear.weight).
inline std::vector<std::size_t> layer_buffer_elements(dims const& d) {
    return {d.hidden, d.ffn * d.hidden, d.ffn * d.hidden, d.hidden * d.ffn};
}

// Bytes of one layer's buffers in bf16 (2 bytes an element), as the CUDA stack uses them.
inline std::vector<std::size_t> layer_buffer_bytes(dims const& d) {
    auto v = layer_buffer_elements(d);
    for (auto& n : v) n *= 2;
    return v;
}

// Bytes of one layer's buffers in float32, as the host stack uses them.
inline std::vector<std::size_t> layer_buffer_bytes_f32(dims const& d) {
    auto v = layer_buffer_elements(d);
    for (auto& n : v) n *= 4;
    return v;
}

// Multiply-adds of one layer's three GEMMs, counted as 2 flops each.
inline double flops_per_layer(dims const& d) {
    return 2.0 * static_cast<double>(d.batch) * static_cast<double>(d.hidden) * static_cast<double>(d.ffn) * 3.0;
}

}  // namespace ffn
