#pragma once
// A layer as it crosses the link under a codec: each buffer encoded (or kept
// raw: read-write buffers, buffers without a tensor_info, or marked not
// compressible), one after the other at aligned offsets, so that one copy
// moves the layer's encoded bytes and the device decodes each buffer from its
// offset into the slot layout the user's compute reads.
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <offload/codec/concept.hpp>
#include <offload/codec/error.hpp>
#include <offload/model.hpp>

namespace offload::codec::detail {

struct encoded_buffer {
    std::size_t offset = 0;  // in the layer's encoded block
    std::size_t bytes = 0;   // encoded bytes (the payload when raw)
    format how = format::none;             // none: raw bytes, copied into the slot as they are
    tensor_info tensor;                    // what decode needs; for raw buffers, only the name
    std::optional<double> relative_l2;     // lossy codecs: measured at encode time
};

struct encoded_layer {
    std::vector<encoded_buffer> buffers;
    std::vector<std::byte> bytes;  // the block, until it is moved to pinned memory
};

template <class Codec>
encoded_layer encode_layer(layer_description const& layer, std::size_t index) {
    encoded_layer out;
    std::vector<std::vector<std::byte>> parts;
    for (std::size_t b = 0; b < layer.buffers().size(); ++b) {
        auto const& wb = layer.buffers()[b];
        encoded_buffer e;
        bool const encode = wb.mode == access::read_only && wb.tensor && Codec::applies_to(*wb.tensor);
        if (encode) {
            e.tensor = *wb.tensor;
            e.how = Codec::format;
            std::vector<std::byte> part(Codec::max_encoded_bytes(e.tensor));
            part.resize(Codec::encode(e.tensor, wb.data, part.data()));
            if (!Codec::lossless) {
                std::vector<std::byte> decoded(e.tensor.bytes());
                Codec::decode(e.tensor, part.data(), part.size(), decoded.data());
                e.relative_l2 = relative_l2_error(e.tensor, wb.data, decoded.data());
            }
            parts.push_back(std::move(part));
        } else {
            e.tensor.name = wb.tensor ? wb.tensor->name : "layer " + std::to_string(index) + " buffer " + std::to_string(b);
            parts.emplace_back(static_cast<std::byte const*>(wb.data), static_cast<std::byte const*>(wb.data) + wb.bytes);
        }
        e.bytes = parts.back().size();
        out.buffers.push_back(std::move(e));
    }
    std::size_t at = 0;
    for (auto& e : out.buffers) {
        e.offset = at;
        at += align_up(e.bytes);
    }
    out.bytes.resize(out.buffers.empty() ? 0 : out.buffers.back().offset + out.buffers.back().bytes);
    for (std::size_t b = 0; b < parts.size(); ++b)
        if (!parts[b].empty()) std::memcpy(out.bytes.data() + out.buffers[b].offset, parts[b].data(), parts[b].size());
    return out;
}

}  // namespace offload::codec::detail
