#pragma once
// Test support: writes a small random Llama checkpoint directory (config.json
// and model.safetensors) with tests/common/safetensors_writer.hpp. Every
// weight is k/1024 with |k| <= 256 and every norm weight 1 + j/64 with
// |j| <= 16: exact in bf16, fp16 and fp32, so that one model stored in each
// type is the same model.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "llama_config.hpp"
#include "llama_engine.hpp"
#include "safetensors_writer.hpp"

namespace llama::testing {

namespace st = offload::testing::safetensors;

struct tiny_options {
    std::string dtype = "BF16";  // "BF16", "F16" or "F32"
    bool tied = false;
    // Write lm_head.weight as a copy of embed_tokens (with tied false): the same
    // model as a tied one.
    bool lm_head_copies_embeddings = false;
    std::uint32_t seed = 1;
};

// float -> fp16 bits for values that fp16 holds exactly as normal numbers (or zero).
inline std::uint16_t exact_fp16_bits(float v) {
    auto const bits = std::bit_cast<std::uint32_t>(v);
    std::uint32_t const sign = (bits >> 16) & 0x8000u;
    if ((bits & 0x7fffffffu) == 0) return static_cast<std::uint16_t>(sign);
    std::uint32_t const exponent = ((bits >> 23) & 0xffu) - 112;
    return static_cast<std::uint16_t>(sign | (exponent << 10) | ((bits >> 13) & 0x3ffu));
}

inline st::tensor stored(std::string const& dtype, std::string name, std::vector<std::size_t> shape,
                         std::vector<float> const& values) {
    if (dtype == "F32") return st::f32(std::move(name), std::move(shape), values);
    if (dtype == "BF16") return st::bf16(std::move(name), std::move(shape), values);
    st::tensor t{std::move(name), "F16", std::move(shape), {}};
    for (float v : values) st::append_le(t.bytes, exact_fp16_bits(v));
    return t;
}

inline void write_tiny_model(std::filesystem::path const& dir, tiny_options const& o) {
    boost::json::object json = boost::json::parse(R"({
        "architectures": ["LlamaForCausalLM"], "hidden_size": 32, "intermediate_size": 48,
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-05, "vocab_size": 64, "max_position_embeddings": 64, "hidden_act": "silu",
        "rope_parameters": {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                            "high_freq_factor": 4.0, "original_max_position_embeddings": 16}})")
                                  .as_object();
    json["tie_word_embeddings"] = o.tied;
    std::filesystem::create_directories(dir);
    st::write_text(dir / "config.json", boost::json::serialize(json));
    auto const c = config::parse(json, "config.json");

    std::mt19937 random(o.seed);
    auto values = [&](std::size_t n, bool norm) {
        std::vector<float> v(n);
        for (auto& x : v)
            x = norm ? 1.0f + static_cast<float>(static_cast<int>(random() % 33) - 16) / 64.0f
                     : static_cast<float>(static_cast<int>(random() % 513) - 256) / 1024.0f;
        return v;
    };
    auto elements = [](std::vector<std::size_t> const& shape) {
        std::size_t n = 1;
        for (auto e : shape) n *= e;
        return n;
    };
    std::vector<st::tensor> tensors;
    auto const embed = values(c.vocab_size * c.hidden_size, false);
    tensors.push_back(stored(o.dtype, embed_tokens_name, {c.vocab_size, c.hidden_size}, embed));
    for (std::size_t i = 0; i < c.num_hidden_layers; ++i)
        for (auto const& t : layer_tensors(c))
            tensors.push_back(stored(o.dtype, "model.layers." + std::to_string(i) + "." + t.suffix, t.shape,
                                     values(elements(t.shape), !t.compressible)));
    tensors.push_back(stored(o.dtype, final_norm_name, {c.hidden_size}, values(c.hidden_size, true)));
    if (!o.tied)
        tensors.push_back(stored(o.dtype, lm_head_name, {c.vocab_size, c.hidden_size},
                                 o.lm_head_copies_embeddings ? embed : values(c.vocab_size * c.hidden_size, false)));
    st::write_file(dir / "model.safetensors", tensors);
}

}  // namespace llama::testing
