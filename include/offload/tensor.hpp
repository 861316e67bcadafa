#pragma once
// What a weight buffer holds, where the caller says so: its element type and
// its shape as a row-major matrix (rows = output features, cols = input
// features). A transfer codec needs it to encode a buffer; a weight source
// fills it from the file's header. Buffers without it are moved as raw bytes.
#include <cstddef>
#include <string>

namespace offload {

enum class dtype { bf16, fp16, fp32 };

constexpr std::size_t dtype_size(dtype t) noexcept { return t == dtype::fp32 ? 4 : 2; }

constexpr char const* dtype_name(dtype t) noexcept {
    switch (t) {
        case dtype::bf16: return "bf16";
        case dtype::fp16: return "fp16";
        case dtype::fp32: return "fp32";
    }
    return "unknown";
}

struct tensor_info {
    std::string name;  // named in errors and in the stats
    dtype type = dtype::bf16;
    std::size_t rows = 0;
    std::size_t cols = 0;
    // False keeps the buffer exact whatever the codec (norm weights, biases).
    bool compressible = true;

    std::size_t elements() const noexcept { return rows * cols; }
    std::size_t bytes() const noexcept { return elements() * dtype_size(type); }

    friend bool operator==(tensor_info const&, tensor_info const&) = default;
};

}  // namespace offload
