#include "llama_config.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace {

// The tiny fixture's config as transformers 5 writes it (rope_parameters).
boost::json::object tiny_v5() {
    return boost::json::parse(R"({
        "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 96,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "rms_norm_eps": 1e-05, "vocab_size": 256, "tie_word_embeddings": false, "max_position_embeddings": 256,
        "hidden_act": "silu", "attention_bias": false, "mlp_bias": false,
        "rope_parameters": {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                            "high_freq_factor": 4.0, "original_max_position_embeddings": 64}})")
        .as_object();
}

// Llama-3.2-1B's config.json as released (rope_theta and rope_scaling, no rope_parameters).
boost::json::object llama_3_2_1b() {
    return boost::json::parse(R"({
        "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 64, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "tie_word_embeddings": true, "vocab_size": 128256, "max_position_embeddings": 131072})")
        .as_object();
}

std::string error_of(boost::json::object const& o) {
    try {
        llama::config::parse(o, "config.json");
    } catch (llama::config_error const& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(LlamaConfig, ReadsTransformers5RopeParameters) {
    auto const c = llama::config::parse(tiny_v5(), "config.json");
    EXPECT_EQ(c.hidden_size, 64u);
    EXPECT_EQ(c.intermediate_size, 96u);
    EXPECT_EQ(c.num_hidden_layers, 2u);
    EXPECT_EQ(c.num_attention_heads, 4u);
    EXPECT_EQ(c.num_key_value_heads, 2u);
    EXPECT_EQ(c.head_dim, 16u);
    EXPECT_EQ(c.q_size(), 64u);
    EXPECT_EQ(c.kv_size(), 32u);
    EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
    EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
    ASSERT_TRUE(c.rope_scaling.has_value());
    EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 8.0);
    EXPECT_DOUBLE_EQ(c.rope_scaling->low_freq_factor, 1.0);
    EXPECT_DOUBLE_EQ(c.rope_scaling->high_freq_factor, 4.0);
    EXPECT_DOUBLE_EQ(c.rope_scaling->original_max_position_embeddings, 64.0);
    EXPECT_EQ(c.vocab_size, 256u);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_EQ(c.max_position_embeddings, 256u);
}

TEST(LlamaConfig, ReadsReleasedLlama3RopeScaling) {
    auto const c = llama::config::parse(llama_3_2_1b(), "config.json");
    EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
    ASSERT_TRUE(c.rope_scaling.has_value());
    EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 32.0);
    EXPECT_DOUBLE_EQ(c.rope_scaling->original_max_position_embeddings, 8192.0);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.head_dim, 64u);
}

TEST(LlamaConfig, DefaultsAsLlamaConfigDoes) {
    auto o = llama_3_2_1b();
    o.erase("head_dim");
    o.erase("rope_scaling");
    o.erase("rope_theta");
    o.erase("tie_word_embeddings");
    o.erase("num_key_value_heads");
    auto const c = llama::config::parse(o, "config.json");
    EXPECT_EQ(c.head_dim, 2048u / 32u);
    EXPECT_FALSE(c.rope_scaling.has_value());
    EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_EQ(c.num_key_value_heads, 32u);
}

TEST(LlamaConfig, DefaultRopeTypeHasNoScaling) {
    auto o = tiny_v5();
    o["rope_parameters"] = boost::json::parse(R"({"rope_type": "default", "rope_theta": 500.0})");
    auto const c = llama::config::parse(o, "config.json");
    EXPECT_FALSE(c.rope_scaling.has_value());
    EXPECT_DOUBLE_EQ(c.rope_theta, 500.0);
}

TEST(LlamaConfig, MissingKeysAreNamedWithTheFile) {
    for (char const* key : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                            "rms_norm_eps", "vocab_size", "max_position_embeddings"}) {
        auto o = tiny_v5();
        o.erase(key);
        EXPECT_EQ(error_of(o), std::string("config.json: ") + key + ": missing") << key;
    }
    for (char const* key : {"rope_theta", "factor", "low_freq_factor", "high_freq_factor",
                            "original_max_position_embeddings"}) {
        auto o = tiny_v5();
        o["rope_parameters"].as_object().erase(key);
        EXPECT_EQ(error_of(o), std::string("config.json: rope_parameters.") + key + ": missing") << key;
    }
    auto o = llama_3_2_1b();
    o["rope_scaling"].as_object().erase("factor");
    EXPECT_EQ(error_of(o), "config.json: rope_scaling.factor: missing");
}

TEST(LlamaConfig, RefusesValuesItCannotRun) {
    auto with = [](char const* key, boost::json::value v) {
        auto o = tiny_v5();
        o[key] = std::move(v);
        return error_of(o);
    };
    EXPECT_EQ(with("hidden_size", 0), "config.json: hidden_size: must be a positive integer, got 0");
    EXPECT_EQ(with("hidden_size", "64"), "config.json: hidden_size: must be a positive integer, got \"64\"");
    EXPECT_EQ(with("num_key_value_heads", 3), "config.json: num_key_value_heads: must divide num_attention_heads (4)");
    EXPECT_EQ(with("head_dim", 15), "config.json: head_dim: must be even (rotary embeddings rotate pairs)");
    EXPECT_EQ(with("rms_norm_eps", -1.0), "config.json: rms_norm_eps: must be positive, got -1E0");
    EXPECT_EQ(with("hidden_act", "gelu"), "config.json: hidden_act: 'gelu' is not supported; allowed: silu");
    EXPECT_EQ(with("attention_bias", true), "config.json: attention_bias: true is not supported; allowed: false");
    EXPECT_EQ(with("rope_parameters", boost::json::parse(R"({"rope_type": "yarn", "rope_theta": 1.0})")),
              "config.json: rope_parameters.rope_type: 'yarn' is not supported; allowed: default, llama3");
}

TEST(LlamaConfig, ReadNamesTheFileThatIsMissingOrNotJson) {
    auto const dir = std::filesystem::temp_directory_path() / ("offload-llama-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto const missing = dir / "absent.json";
    EXPECT_THROW(
        try { llama::config::read(missing); } catch (llama::config_error const& e) {
            EXPECT_EQ(std::string(e.what()), missing.string() + ": cannot be opened");
            throw;
        },
        llama::config_error);
    auto const bad = dir / "config.json";
    std::ofstream(bad) << "{\"hidden_size\": ";
    EXPECT_THROW(
        try { llama::config::read(bad); } catch (llama::config_error const& e) {
            EXPECT_EQ(std::string(e.what()).rfind(bad.string() + ": not valid JSON", 0), 0u) << e.what();
            throw;
        },
        llama::config_error);
    std::ofstream(bad) << boost::json::serialize(tiny_v5());
    EXPECT_EQ(llama::config::read(bad).hidden_size, 64u);
    std::filesystem::remove_all(dir);
}

}  // namespace
