#pragma once
// The shape of a LlamaForCausalLM, read from the config.json that transformers
// writes beside the weights. Both spellings of the rotary settings are read:
// transformers 5 writes "rope_parameters" {rope_type, rope_theta, ...}, older
// checkpoints (the Llama 3 releases) "rope_theta" and "rope_scaling".
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <boost/json.hpp>

#include <offload/errors.hpp>

namespace llama {

// A config.json that cannot be used: names the file and the key.
struct config_error : offload::error {
    using offload::error::error;
};

// rope_type "llama3": low frequencies are divided by factor, high ones kept,
// the band between smoothly interpolated (transformers' _compute_llama3_parameters).
struct llama3_rope_scaling {
    double factor = 0;
    double low_freq_factor = 0;
    double high_freq_factor = 0;
    double original_max_position_embeddings = 0;
};

struct config {
    std::size_t hidden_size = 0;
    std::size_t intermediate_size = 0;
    std::size_t num_hidden_layers = 0;
    std::size_t num_attention_heads = 0;
    std::size_t num_key_value_heads = 0;
    std::size_t head_dim = 0;  // hidden_size / num_attention_heads where config.json has none
    double rms_norm_eps = 0;
    double rope_theta = 0;
    std::optional<llama3_rope_scaling> rope_scaling;  // absent: rope_type "default"
    std::size_t vocab_size = 0;
    bool tie_word_embeddings = false;
    std::size_t max_position_embeddings = 0;

    std::size_t q_size() const noexcept { return num_attention_heads * head_dim; }
    std::size_t kv_size() const noexcept { return num_key_value_heads * head_dim; }

    static config read(std::filesystem::path const& config_json);
    static config parse(boost::json::object const& json, std::string const& file);
};

namespace detail {

class config_reader {
public:
    config_reader(boost::json::object const& o, std::string file, std::string prefix = "")
        : o_(o), file_(std::move(file)), prefix_(std::move(prefix)) {}

    [[noreturn]] void fail(std::string const& key, std::string const& what) const {
        throw config_error(file_ + ": " + prefix_ + key + ": " + what);
    }
    boost::json::value const* find(std::string const& key) const {
        auto const* v = o_.if_contains(key);
        return v != nullptr && !v->is_null() ? v : nullptr;
    }
    boost::json::value const& at(std::string const& key) const {
        if (auto const* v = find(key)) return *v;
        fail(key, "missing");
    }
    std::size_t count(std::string const& key) const {
        auto const& v = at(key);
        if (v.is_uint64() && v.get_uint64() > 0) return static_cast<std::size_t>(v.get_uint64());
        if (v.is_int64() && v.get_int64() > 0) return static_cast<std::size_t>(v.get_int64());
        fail(key, "must be a positive integer, got " + boost::json::serialize(v));
    }
    double number(std::string const& key) const {
        auto const& v = at(key);
        if (!v.is_number()) fail(key, "must be a number, got " + boost::json::serialize(v));
        return v.to_number<double>();
    }
    double positive(std::string const& key) const {
        double const x = number(key);
        if (!(x > 0)) fail(key, "must be positive, got " + boost::json::serialize(at(key)));
        return x;
    }
    std::string text(std::string const& key) const {
        auto const& v = at(key);
        if (!v.is_string()) fail(key, "must be a string, got " + boost::json::serialize(v));
        return std::string(v.get_string());
    }
    bool flag(std::string const& key, bool fallback) const {
        auto const* v = find(key);
        if (v == nullptr) return fallback;
        if (!v->is_bool()) fail(key, "must be true or false, got " + boost::json::serialize(*v));
        return v->get_bool();
    }
    config_reader object(std::string const& key) const {
        auto const& v = at(key);
        if (!v.is_object()) fail(key, "must be an object, got " + boost::json::serialize(v));
        return config_reader(v.get_object(), file_, prefix_ + key + ".");
    }

private:
    boost::json::object const& o_;
    std::string file_;
    std::string prefix_;
};

// rope_parameters (transformers 5) or rope_scaling (before): both hold rope_type
// and, for llama3, its four numbers; rope_theta is inside the first, beside the second.
inline void read_rope(config_reader const& r, config& c) {
    std::optional<config_reader> rope;
    if (r.find("rope_parameters")) {
        rope.emplace(r.object("rope_parameters"));
        // transformers 5 keeps rope_theta inside; a file may still have it beside.
        c.rope_theta = rope->find("rope_theta") || !r.find("rope_theta") ? rope->positive("rope_theta")
                                                                         : r.positive("rope_theta");
    } else {
        c.rope_theta = r.find("rope_theta") ? r.positive("rope_theta") : 10000.0;  // LlamaConfig's default
        if (r.find("rope_scaling")) rope.emplace(r.object("rope_scaling"));
    }
    if (!rope) return;
    // Older files say "type" where newer ones say "rope_type".
    std::string const type = rope->find("rope_type") ? rope->text("rope_type") : rope->text("type");
    if (type == "default") return;
    if (type != "llama3") rope->fail("rope_type", "'" + type + "' is not supported; allowed: default, llama3");
    llama3_rope_scaling s;
    s.factor = rope->positive("factor");
    s.low_freq_factor = rope->positive("low_freq_factor");
    s.high_freq_factor = rope->positive("high_freq_factor");
    s.original_max_position_embeddings = rope->positive("original_max_position_embeddings");
    if (!(s.high_freq_factor > s.low_freq_factor))
        rope->fail("high_freq_factor", "must exceed low_freq_factor");
    c.rope_scaling = s;
}

}  // namespace detail

inline config config::parse(boost::json::object const& json, std::string const& file) {
    detail::config_reader const r(json, file);
    config c;
    c.hidden_size = r.count("hidden_size");
    c.intermediate_size = r.count("intermediate_size");
    c.num_hidden_layers = r.count("num_hidden_layers");
    c.num_attention_heads = r.count("num_attention_heads");
    c.num_key_value_heads = r.find("num_key_value_heads") ? r.count("num_key_value_heads") : c.num_attention_heads;
    if (c.num_attention_heads % c.num_key_value_heads != 0)
        r.fail("num_key_value_heads", "must divide num_attention_heads (" + std::to_string(c.num_attention_heads) + ")");
    if (r.find("head_dim")) {
        c.head_dim = r.count("head_dim");
    } else {
        if (c.hidden_size % c.num_attention_heads != 0)
            r.fail("head_dim", "missing, and hidden_size is not a multiple of num_attention_heads");
        c.head_dim = c.hidden_size / c.num_attention_heads;
    }
    if (c.head_dim % 2 != 0) r.fail("head_dim", "must be even (rotary embeddings rotate pairs)");
    c.rms_norm_eps = r.positive("rms_norm_eps");
    detail::read_rope(r, c);
    c.vocab_size = r.count("vocab_size");
    c.tie_word_embeddings = r.flag("tie_word_embeddings", false);  // LlamaConfig's default
    c.max_position_embeddings = r.count("max_position_embeddings");
    if (r.find("hidden_act") && r.text("hidden_act") != "silu")
        r.fail("hidden_act", "'" + r.text("hidden_act") + "' is not supported; allowed: silu");
    if (r.flag("attention_bias", false)) r.fail("attention_bias", "true is not supported; allowed: false");
    if (r.flag("mlp_bias", false)) r.fail("mlp_bias", "true is not supported; allowed: false");
    return c;
}

inline config config::read(std::filesystem::path const& config_json) {
    std::string const file = config_json.string();
    std::ifstream in(config_json, std::ios::binary);
    if (!in) throw config_error(file + ": cannot be opened");
    std::ostringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    boost::json::value const v = boost::json::parse(text.str(), ec);
    if (ec) throw config_error(file + ": not valid JSON (" + ec.message() + ")");
    if (!v.is_object()) throw config_error(file + ": not a JSON object");
    return parse(v.get_object(), file);
}

}  // namespace llama
