#pragma once
// One tensor of a checkpoint: its header entry, checked, and where its bytes
// lie inside the read-only mapping of its file. Valid while the checkpoint
// that made it lives.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <offload/tensor.hpp>

namespace offload::safetensors {

struct tensor_view {
    std::string name;
    offload::dtype type = offload::dtype::bf16;
    std::vector<std::size_t> shape;
    std::byte const* data = nullptr;
    std::size_t bytes = 0;
    std::filesystem::path file;

    std::size_t elements() const noexcept { return bytes / offload::dtype_size(type); }
};

}  // namespace offload::safetensors
