#pragma once
// The host-side description of a layer stack: each layer is a list of weight
// buffers (host pointer, size, and whether the layer writes to it).
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <offload/errors.hpp>
#include <offload/tensor.hpp>

namespace offload {

enum class access {
    read_only,   // dropped when the layer is released
    read_write,  // written back to host memory when the layer is released
};

struct weight_buffer {
    weight_buffer(void const* data, std::size_t bytes) : data(const_cast<void*>(data)), bytes(bytes) {}
    weight_buffer(void* data, std::size_t bytes, access mode) : data(data), bytes(bytes), mode(mode) {}
    // A read-only buffer whose element type and shape are known, so that a
    // transfer codec may encode it (unless tensor.compressible is false).
    weight_buffer(void const* data, tensor_info t)
        : data(const_cast<void*>(data)), bytes(t.bytes()), tensor(std::move(t)) {}

    void* data;  // written only when mode is read_write
    std::size_t bytes;
    access mode = access::read_only;
    std::optional<tensor_info> tensor;  // absent: raw bytes, never encoded
};

// Device placement of a layer's buffers: each starts on this boundary so that
// vectorised kernels and cuBLAS see aligned pointers in staging slots too.
inline constexpr std::size_t buffer_alignment = 256;

constexpr std::size_t align_up(std::size_t n, std::size_t a = buffer_alignment) {
    return (n + a - 1) / a * a;
}

class layer_description {
public:
    explicit layer_description(std::vector<weight_buffer> buffers) : buffers_(std::move(buffers)) {
        offsets_.reserve(buffers_.size());
        for (auto const& b : buffers_) {
            offsets_.push_back(footprint_);
            footprint_ += align_up(b.bytes);
            if (b.mode == access::read_write) writes_back_ = true;
        }
    }
    std::vector<weight_buffer> const& buffers() const noexcept { return buffers_; }
    std::size_t offset(std::size_t buffer) const noexcept { return offsets_[buffer]; }
    // Bytes a device copy of this layer occupies, alignment padding included.
    std::size_t footprint() const noexcept { return footprint_; }
    std::size_t payload_bytes() const noexcept {
        std::size_t n = 0;
        for (auto const& b : buffers_) n += b.bytes;
        return n;
    }
    bool writes_back() const noexcept { return writes_back_; }

private:
    std::vector<weight_buffer> buffers_;
    std::vector<std::size_t> offsets_;
    std::size_t footprint_ = 0;
    bool writes_back_ = false;
};

class model {
public:
    model& add_layer(std::vector<weight_buffer> buffers) {
        auto const index = std::to_string(layers_.size());
        if (buffers.empty())
            throw configuration_error("offload: layer " + index + " has no weight buffers");
        for (std::size_t b = 0; b < buffers.size(); ++b) {
            auto const where = "offload: layer " + index + ", buffer " + std::to_string(b);
            if (buffers[b].data == nullptr) throw configuration_error(where + " has a null host pointer");
            if (buffers[b].bytes == 0) throw configuration_error(where + " has zero bytes");
        }
        layers_.emplace_back(std::move(buffers));
        return *this;
    }
    model& add_layer(std::initializer_list<weight_buffer> buffers) {
        return add_layer(std::vector<weight_buffer>(buffers));
    }

    std::size_t size() const noexcept { return layers_.size(); }
    bool empty() const noexcept { return layers_.empty(); }
    layer_description const& layer(std::size_t i) const { return layers_.at(i); }
    std::vector<layer_description> const& layers() const noexcept { return layers_; }

private:
    std::vector<layer_description> layers_;
};

}  // namespace offload
