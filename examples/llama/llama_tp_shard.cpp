// A tensor-parallel shard of a Llama checkpoint (see llama_tp_shard.hpp).
#include "llama_tp_shard.hpp"

#include <cstring>
#include <string>

#include <offload/tensor.hpp>

#include "llama_engine.hpp"

namespace llama::tp {

config rank_config(config const& full, int ranks) {
    auto const n = static_cast<std::size_t>(ranks);
    auto divided = [&](std::size_t value, char const* key) {
        if (ranks < 1 || value % n != 0)
            throw config_error(std::string(key) + " " + std::to_string(value) + " does not split over " +
                               std::to_string(ranks) + " GPUs");
        return value / n;
    };
    config c = full;
    c.num_attention_heads = divided(full.num_attention_heads, "num_attention_heads");
    c.num_key_value_heads = divided(full.num_key_value_heads, "num_key_value_heads");
    c.intermediate_size = divided(full.intermediate_size, "intermediate_size");
    return c;
}

std::size_t shard::layer_bytes() const {
    std::size_t n = 0;
    for (auto b : bytes) n += b;
    return n;
}

namespace {

// How a projection splits: by output rows (q, k, v, gate, up), by input
// columns (o, down), or not at all (the norms).
enum class split { whole, rows, columns };

split split_of(std::size_t buffer) {
    switch (buffer) {
        case q_proj:
        case k_proj:
        case v_proj:
        case gate_proj:
        case up_proj: return split::rows;
        case o_proj:
        case down_proj: return split::columns;
        default: return split::whole;
    }
}

}  // namespace

shard make_shard(checkpoint_model const& m, int rank, int ranks) {
    shard s;
    s.local = rank_config(m.cfg, ranks);
    auto const r = static_cast<std::size_t>(rank), n = static_cast<std::size_t>(ranks);
    auto const& first = m.layered.layers.front();
    for (std::size_t b = 0; b < layer_buffer_count; ++b)
        s.bytes.push_back(first[b].bytes / (split_of(b) == split::whole ? 1 : n));
    s.blocks.resize(m.layered.layers.size());
    for (std::size_t l = 0; l < s.blocks.size(); ++l) {
        for (std::size_t b = 0; b < layer_buffer_count; ++b) {
            auto const& t = m.layered.layers[l][b];
            auto block = offload_examples::tp::allocate_pages(s.bytes[b]);
            auto* out = static_cast<std::byte*>(block.get());
            switch (split_of(b)) {
                case split::whole: std::memcpy(out, t.data, t.bytes); break;
                case split::rows: std::memcpy(out, t.data + r * s.bytes[b], s.bytes[b]); break;
                case split::columns: {
                    // [rows][cols] row-major: columns r cols/n .. (r+1) cols/n of every row.
                    std::size_t const rows = t.shape[0], row_bytes = t.bytes / rows, part = row_bytes / n;
                    for (std::size_t i = 0; i < rows; ++i)
                        std::memcpy(out + i * part, t.data + i * row_bytes + r * part, part);
                }
            }
            s.blocks[l].push_back(std::move(block));
        }
    }
    return s;
}

offload::model describe(shard const& s, offload::dtype type, int rank) {
    auto const tensors = layer_tensors(s.local);
    offload::model m;
    for (std::size_t l = 0; l < s.blocks.size(); ++l) {
        std::string const prefix = "model.layers." + std::to_string(l) + ".rank" + std::to_string(rank) + ".";
        std::vector<offload::weight_buffer> buffers;
        for (std::size_t b = 0; b < layer_buffer_count; ++b) {
            auto const& t = tensors[b];
            std::size_t const rows = t.shape.size() == 2 ? t.shape[0] : 1, cols = t.shape.back();
            buffers.emplace_back(s.blocks[l][b].get(),
                                 offload::tensor_info{prefix + t.suffix, type, rows, cols, t.compressible});
        }
        m.add_layer(std::move(buffers));
    }
    return m;
}

}  // namespace llama::tp
