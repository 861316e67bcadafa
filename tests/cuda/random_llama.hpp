#pragma once
// Test support: a random bf16 Llama checkpoint of any shape, written to a
// scratch directory (tests/common/safetensors_writer.hpp) and opened as
// offload-llama opens one.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "../common/safetensors_writer.hpp"
#include "llama_config.hpp"
#include "llama_engine.hpp"
#include "llama_model.hpp"

namespace llama::testing {

namespace st = offload::testing::safetensors;

// config.json as transformers 5 writes it for this config.
inline std::string config_json(config const& c) {
    boost::json::object rope{{"rope_theta", c.rope_theta}, {"rope_type", "default"}};
    if (c.rope_scaling) {
        rope["rope_type"] = "llama3";
        rope["factor"] = c.rope_scaling->factor;
        rope["low_freq_factor"] = c.rope_scaling->low_freq_factor;
        rope["high_freq_factor"] = c.rope_scaling->high_freq_factor;
        rope["original_max_position_embeddings"] = c.rope_scaling->original_max_position_embeddings;
    }
    boost::json::object json{{"architectures", {"LlamaForCausalLM"}},
                             {"hidden_size", c.hidden_size},
                             {"intermediate_size", c.intermediate_size},
                             {"num_hidden_layers", c.num_hidden_layers},
                             {"num_attention_heads", c.num_attention_heads},
                             {"num_key_value_heads", c.num_key_value_heads},
                             {"head_dim", c.head_dim},
                             {"rms_norm_eps", c.rms_norm_eps},
                             {"vocab_size", c.vocab_size},
                             {"max_position_embeddings", c.max_position_embeddings},
                             {"tie_word_embeddings", c.tie_word_embeddings},
                             {"hidden_act", "silu"},
                             {"rope_parameters", std::move(rope)}};
    return boost::json::serialize(json);
}

// A random bf16 Llama checkpoint (config.json, model.safetensors) in a scratch
// directory, opened as offload-llama opens one: projections uniform with
// variance 1 / fan_in, norm weights in [0.5, 1.5] (so that a norm weight left
// out shows), embeddings of unit variance.
struct random_llama {
    random_llama(config const& c, std::uint32_t seed) : model(write(dir, c, seed)) {}

    static checkpoint_model write(st::scratch_dir const& dir, config const& c, std::uint32_t seed) {
        std::mt19937 rng(seed);
        std::vector<st::tensor> tensors;
        auto add = [&](std::string const& name, std::vector<std::size_t> const& shape, float low, float high) {
            std::size_t n = 1;
            for (auto d : shape) n *= d;
            std::uniform_real_distribution<float> u(low, high);
            std::vector<float> values(n);
            for (auto& v : values) v = u(rng);
            tensors.push_back(st::bf16(name, shape, values));
        };
        auto linear = [&](std::string const& name, std::size_t out, std::size_t in) {
            float const a = std::sqrt(3.0f / static_cast<float>(in));
            add(name, {out, in}, -a, a);
        };
        std::size_t const h = c.hidden_size;
        float const unit = std::sqrt(3.0f);
        add(embed_tokens_name, {c.vocab_size, h}, -unit, unit);
        for (std::size_t i = 0; i < c.num_hidden_layers; ++i)
            for (auto const& t : layer_tensors(c)) {
                std::string const name = "model.layers." + std::to_string(i) + "." + t.suffix;
                if (t.shape.size() == 1)
                    add(name, t.shape, 0.5f, 1.5f);
                else
                    linear(name, t.shape[0], t.shape[1]);
            }
        add(final_norm_name, {h}, 0.5f, 1.5f);
        if (!c.tie_word_embeddings) linear(lm_head_name, c.vocab_size, h);
        st::write_text(dir / "config.json", config_json(c));
        st::write_file(dir / "model.safetensors", tensors);
        return checkpoint_model::open(dir.path());
    }

    layer_pointers host_pointers(std::size_t layer) const {
        layer_pointers w{};
        for (std::size_t b = 0; b < layer_buffer_count; ++b) w[b] = model.layered.layers[layer][b].data;
        return w;
    }
    config const& cfg() const noexcept { return model.cfg; }
    auto const& outside() const noexcept { return model.outside(); }

    st::scratch_dir dir;
    checkpoint_model model;
};

}  // namespace llama::testing
