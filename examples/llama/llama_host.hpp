#pragma once
// llama::host_engine: a LlamaForCausalLM forward step on the CPU in float32,
// weights read as stored (bf16, fp16 or fp32) from the offloader's buffers and
// from the tensors outside the layers. The reference for the CUDA engine and
// what CI runs against transformers' logits. Follows modeling_llama.py:
//   x = embed_tokens[token]
//   per layer: h = rmsnorm(x) * input_layernorm; q, k, v = h q_proj^T, ...;
//              rotate_half RoPE on q and k; GQA attention, softmax(q k^T / sqrt(head_dim)), causal;
//              x += attn o_proj^T; h = rmsnorm(x) * post_attention_layernorm;
//              x += (silu(h gate^T) * (h up^T)) down^T
//   logits = (rmsnorm(x) * norm) lm_head^T   (lm_head = embed_tokens when tied)
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <offload/errors.hpp>
#include <offload/source/safetensors.hpp>
#include <offload/tensor.hpp>

#include "llama_config.hpp"
#include "llama_dtype.hpp"
#include "llama_engine.hpp"
#include "llama_rope.hpp"

namespace llama {

// y = weight * (x / sqrt(mean(x^2) + eps)), for n values (LlamaRMSNorm in float32).
template <class Reader>
void rms_norm(float const* x, void const* weight, std::size_t n, double eps, float* y) {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
    auto const inv = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
    for (std::size_t i = 0; i < n; ++i) y[i] = Reader::at(weight, i) * (x[i] * inv);
}

// y[t][o] = sum_i x[t][i] w[o][i] (+ y[t][o] when accumulate), w row-major [out][in].
template <class Reader>
void linear(float const* x, std::size_t tokens, void const* w, std::size_t out, std::size_t in, float* y,
            bool accumulate = false) {
    std::vector<float> row(in);
    for (std::size_t o = 0; o < out; ++o) {
        for (std::size_t i = 0; i < in; ++i) row[i] = Reader::at(w, o * in + i);
        for (std::size_t t = 0; t < tokens; ++t) {
            float const* xt = x + t * in;
            // Four partial sums: independent chains the compiler can overlap.
            float s[4] = {0, 0, 0, 0};
            std::size_t i = 0;
            for (; i + 4 <= in; i += 4)
                for (std::size_t k = 0; k < 4; ++k) s[k] += xt[i + k] * row[i + k];
            for (; i < in; ++i) s[0] += xt[i] * row[i];
            float const sum = (s[0] + s[1]) + (s[2] + s[3]);
            y[t * out + o] = accumulate ? y[t * out + o] + sum : sum;
        }
    }
}

// rotate_half RoPE on one head: v[k], v[k + half] rotated by angle position * inv_freq[k].
inline void apply_rope(float* v, std::size_t head_dim, float const* cos, float const* sin) {
    std::size_t const half = head_dim / 2;
    for (std::size_t k = 0; k < half; ++k) {
        float const a = v[k], b = v[k + half];
        v[k] = a * cos[k] - b * sin[k];
        v[k + half] = b * cos[k] + a * sin[k];
    }
}

class host_engine {
public:
    // outside: the tensors of the checkpoint outside the layers (embed_tokens,
    // norm, and lm_head unless tied), kept mapped by the caller while the engine
    // lives. layer_type: the element type of every layer tensor.
    host_engine(config const& c, std::map<std::string, offload::safetensors::tensor_view> const& outside,
                std::size_t max_tokens, offload::dtype layer_type)
        : c_(c), max_tokens_(max_tokens), layer_type_(layer_type),
          embed_(tensor(outside, embed_tokens_name, {c.vocab_size, c.hidden_size})),
          norm_(tensor(outside, final_norm_name, {c.hidden_size})),
          lm_head_(c.tie_word_embeddings && !outside.contains(lm_head_name)
                       ? embed_
                       : tensor(outside, lm_head_name, {c.vocab_size, c.hidden_size})),
          inv_freq_(rope_inv_freq(c)) {
        if (max_tokens == 0) throw offload::configuration_error("llama::host_engine: max_tokens must be at least 1");
        std::size_t const cache = max_tokens * c.kv_size();
        k_cache_.assign(c.num_hidden_layers, std::vector<float>(cache));
        v_cache_.assign(c.num_hidden_layers, std::vector<float>(cache));
    }

    void begin(std::span<std::int32_t const> tokens, std::size_t start_position) {
        if (tokens.empty()) throw offload::configuration_error("llama::host_engine: a step needs at least one token");
        if (start_position + tokens.size() > max_tokens_)
            throw offload::configuration_error("llama::host_engine: positions " + std::to_string(start_position) +
                                               " to " + std::to_string(start_position + tokens.size() - 1) +
                                               " exceed the " + std::to_string(max_tokens_) + " tokens it was made for");
        tokens_ = tokens.size();
        position_ = start_position;
        std::size_t const h = c_.hidden_size;
        x_.assign(tokens_ * h, 0.0f);
        for (std::size_t t = 0; t < tokens_; ++t) {
            auto const id = tokens[t];
            if (id < 0 || static_cast<std::size_t>(id) >= c_.vocab_size)
                throw offload::configuration_error("llama::host_engine: token id " + std::to_string(id) +
                                                   " is outside the vocabulary of " + std::to_string(c_.vocab_size));
            with_reader(embed_.type, [&]<class R>(R) {
                for (std::size_t i = 0; i < h; ++i) x_[t * h + i] = R::at(embed_.data, static_cast<std::size_t>(id) * h + i);
            });
        }
        // cos and sin of every position of the step, as float32 angles.
        std::size_t const half = c_.head_dim / 2;
        cos_.resize(tokens_ * half);
        sin_.resize(tokens_ * half);
        for (std::size_t t = 0; t < tokens_; ++t)
            for (std::size_t k = 0; k < half; ++k) {
                float const angle = static_cast<float>(position_ + t) * inv_freq_[k];
                cos_[t * half + k] = std::cos(angle);
                sin_[t * half + k] = std::sin(angle);
            }
    }

    void layer(std::size_t i, layer_pointers const& w) {
        if (i >= c_.num_hidden_layers)
            throw offload::configuration_error("llama::host_engine: no layer " + std::to_string(i));
        with_reader(layer_type_, [&]<class R>(R) { decoder_layer<R>(i, w); });
    }

    void finish(std::vector<float>* all_logits) {
        std::size_t const h = c_.hidden_size, v = c_.vocab_size;
        // Only the last token's logits decide the next token.
        std::size_t const first = all_logits != nullptr ? 0 : tokens_ - 1;
        std::size_t const rows = tokens_ - first;
        normed_.resize(rows * h);
        with_reader(norm_.type, [&]<class R>(R) {
            for (std::size_t t = 0; t < rows; ++t)
                rms_norm<R>(&x_[(first + t) * h], norm_.data, h, c_.rms_norm_eps, &normed_[t * h]);
        });
        logits_.resize(rows * v);
        with_reader(lm_head_.type, [&]<class R>(R) { linear<R>(normed_.data(), rows, lm_head_.data, v, h, logits_.data()); });
        if (all_logits != nullptr) *all_logits = logits_;
        last_logits_ = &logits_[(rows - 1) * v];
    }

    std::int32_t next_token() const {
        if (last_logits_ == nullptr) throw offload::configuration_error("llama::host_engine: next_token before finish");
        return static_cast<std::int32_t>(std::max_element(last_logits_, last_logits_ + c_.vocab_size) - last_logits_);
    }

private:
    struct weights {
        void const* data;
        offload::dtype type;
    };

    static weights tensor(std::map<std::string, offload::safetensors::tensor_view> const& outside,
                          std::string const& name, std::vector<std::size_t> const& shape) {
        auto const it = outside.find(name);
        if (it == outside.end()) throw offload::configuration_error("llama: the checkpoint has no tensor " + name);
        auto const& t = it->second;
        if (std::vector<std::size_t>(t.shape.begin(), t.shape.end()) != shape) {
            std::string want;
            for (auto d : shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
            throw offload::configuration_error("llama: tensor " + name + " in " + t.file.string() +
                                               " does not have the shape config.json implies, [" + want + "]");
        }
        return {static_cast<void const*>(t.data), t.type};
    }

    template <class R>
    void decoder_layer(std::size_t layer, layer_pointers const& w) {
        std::size_t const T = tokens_, h = c_.hidden_size, q = c_.q_size(), kv = c_.kv_size(), f = c_.intermediate_size;
        h_.resize(T * h);
        for (std::size_t t = 0; t < T; ++t) rms_norm<R>(&x_[t * h], w[input_layernorm], h, c_.rms_norm_eps, &h_[t * h]);

        q_.resize(T * q);
        linear<R>(h_.data(), T, w[q_proj], q, h, q_.data());
        // Keys and values go straight into the cache at their positions.
        float* const keys = k_cache_[layer].data();
        float* const values = v_cache_[layer].data();
        linear<R>(h_.data(), T, w[k_proj], kv, h, keys + position_ * kv);
        linear<R>(h_.data(), T, w[v_proj], kv, h, values + position_ * kv);

        std::size_t const d = c_.head_dim, half = d / 2;
        for (std::size_t t = 0; t < T; ++t) {
            float const* cs = &cos_[t * half];
            float const* sn = &sin_[t * half];
            for (std::size_t head = 0; head < c_.num_attention_heads; ++head) apply_rope(&q_[t * q + head * d], d, cs, sn);
            for (std::size_t head = 0; head < c_.num_key_value_heads; ++head)
                apply_rope(keys + (position_ + t) * kv + head * d, d, cs, sn);
        }

        attention(keys, values);
        linear<R>(attn_.data(), T, w[o_proj], h, q, x_.data(), true);

        for (std::size_t t = 0; t < T; ++t)
            rms_norm<R>(&x_[t * h], w[post_attention_layernorm], h, c_.rms_norm_eps, &h_[t * h]);
        gate_.resize(T * f);
        up_.resize(T * f);
        linear<R>(h_.data(), T, w[gate_proj], f, h, gate_.data());
        linear<R>(h_.data(), T, w[up_proj], f, h, up_.data());
        for (std::size_t i = 0; i < T * f; ++i) gate_[i] = gate_[i] / (1.0f + std::exp(-gate_[i])) * up_[i];
        linear<R>(gate_.data(), T, w[down_proj], h, f, x_.data(), true);
    }

    // attn_[t][head] = softmax over positions 0..position_+t of q.k / sqrt(d), times v;
    // query head `head` reads kv head head / (heads per kv head).
    void attention(float const* keys, float const* values) {
        std::size_t const T = tokens_, q = c_.q_size(), kv = c_.kv_size(), d = c_.head_dim;
        std::size_t const group = c_.num_attention_heads / c_.num_key_value_heads;
        float const scale = 1.0f / std::sqrt(static_cast<float>(d));
        attn_.assign(T * q, 0.0f);
        scores_.resize(position_ + T);
        for (std::size_t t = 0; t < T; ++t) {
            std::size_t const visible = position_ + t + 1;
            for (std::size_t head = 0; head < c_.num_attention_heads; ++head) {
                float const* qh = &q_[t * q + head * d];
                std::size_t const kv_head = head / group;
                float top = -INFINITY;
                for (std::size_t j = 0; j < visible; ++j) {
                    float const* kj = keys + j * kv + kv_head * d;
                    float s = 0;
                    for (std::size_t i = 0; i < d; ++i) s += qh[i] * kj[i];
                    scores_[j] = s * scale;
                    top = std::max(top, scores_[j]);
                }
                float total = 0;
                for (std::size_t j = 0; j < visible; ++j) total += scores_[j] = std::exp(scores_[j] - top);
                float* out = &attn_[t * q + head * d];
                for (std::size_t j = 0; j < visible; ++j) {
                    float const p = scores_[j] / total;
                    float const* vj = values + j * kv + kv_head * d;
                    for (std::size_t i = 0; i < d; ++i) out[i] += p * vj[i];
                }
            }
        }
    }

    config c_;
    std::size_t max_tokens_;
    offload::dtype layer_type_;
    weights embed_, norm_, lm_head_;
    std::vector<float> inv_freq_;
    std::vector<std::vector<float>> k_cache_, v_cache_;  // per layer: [max_tokens][kv_size]

    std::size_t tokens_ = 0;    // of the current step
    std::size_t position_ = 0;  // of its first token
    std::vector<float> x_, h_, q_, attn_, gate_, up_, scores_, cos_, sin_, normed_, logits_;
    float const* last_logits_ = nullptr;
};

static_assert(engine<host_engine>);

}  // namespace llama
