#pragma once
// From a checkpoint to an offload::model: the tensors whose names match a
// layer pattern ("model.layers.{i}.") become the layers' buffers, in the
// order the spec lists them; every other tensor (embeddings, final norm,
// lm_head) is handed back to the caller. Each layer tensor is checked
// against the spec's shape and dtype. A tensor that matches the pattern but
// that the spec does not expect is an error: silently leaving out a weight
// (a bias, an extra norm) would compute the wrong model.
#include <charconv>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <offload/errors.hpp>
#include <offload/model.hpp>
#include <offload/source/safetensors/checkpoint.hpp>
#include <offload/source/safetensors/detail/parse_header.hpp>
#include <offload/source/safetensors/error.hpp>
#include <offload/source/safetensors/tensor_view.hpp>
#include <offload/tensor.hpp>

namespace offload::safetensors {

struct expected_tensor {
    std::string suffix;  // the name after the layer prefix: "mlp.down_proj.weight"
    std::vector<std::size_t> shape;
    bool compressible = true;  // false keeps it exact under any transfer codec (norms, biases)
};

struct layer_spec {
    std::string pattern = "model.layers.{i}.";  // {i} is the layer index
    std::size_t layers = 0;
    std::vector<expected_tensor> tensors;  // in the order they become the layer's buffers
    // The dtype every layer tensor must have; if absent, they must all share one.
    std::optional<offload::dtype> type;
};

struct layered_model {
    // Layer i holds the spec's tensors of layer i, in order: read-only buffers
    // pointing into the checkpoint's mappings, each with its tensor_info.
    offload::model model;
    std::vector<std::vector<tensor_view>> layers;
    std::map<std::string, tensor_view> outside;  // every tensor the pattern does not match
};

namespace detail {

struct layer_pattern {
    std::string before;  // the pattern up to {i}
    std::string after;   // the pattern after {i}

    static layer_pattern of(std::string const& pattern) {
        auto const at = pattern.find("{i}");
        if (at == std::string::npos || pattern.find("{i}", at + 3) != std::string::npos)
            throw configuration_error("offload: safetensors: the layer pattern \"" + pattern +
                                      "\" must hold {i} exactly once");
        return {pattern.substr(0, at), pattern.substr(at + 3)};
    }
    std::string prefix(std::size_t layer) const { return before + std::to_string(layer) + after; }

    struct match {
        std::size_t layer;
        std::string_view suffix;
    };
    // "model.layers.12.mlp.up_proj.weight" -> {12, "mlp.up_proj.weight"}; the
    // index is decimal without leading zeros, so each name has one reading.
    std::optional<match> find(std::string_view name) const {
        if (!name.starts_with(before)) return std::nullopt;
        std::string_view rest = name.substr(before.size());
        std::size_t digits = 0;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
        if (digits == 0 || (digits > 1 && rest[0] == '0')) return std::nullopt;
        std::size_t layer = 0;
        if (std::from_chars(rest.data(), rest.data() + digits, layer).ec != std::errc{}) return std::nullopt;
        rest.remove_prefix(digits);
        if (!rest.starts_with(after)) return std::nullopt;
        return match{layer, rest.substr(after.size())};
    }
};

inline tensor_info info_of(tensor_view const& t, bool compressible) {
    // A matrix view: rows = the first extent, cols = the rest (1-D: one row).
    std::size_t rows = 1;
    std::size_t cols = 1;
    if (t.shape.size() == 1) cols = t.shape[0];
    if (t.shape.size() > 1) {
        rows = t.shape[0];
        for (std::size_t d = 1; d < t.shape.size(); ++d) cols *= t.shape[d];
    }
    return tensor_info{t.name, t.type, rows, cols, compressible};
}

inline void check_spec(layer_spec const& spec) {
    if (spec.layers == 0) throw configuration_error("offload: safetensors: the layer spec has no layers");
    if (spec.tensors.empty()) throw configuration_error("offload: safetensors: the layer spec lists no tensors");
    std::set<std::string> suffixes;
    for (auto const& t : spec.tensors) {
        if (!suffixes.insert(t.suffix).second)
            throw configuration_error("offload: safetensors: the layer spec lists \"" + t.suffix + "\" twice");
        for (auto extent : t.shape)
            if (extent == 0)
                throw configuration_error("offload: safetensors: the layer spec gives \"" + t.suffix +
                                          "\" a zero extent; a buffer needs at least one byte");
    }
}

}  // namespace detail

// Throws safetensors::error (kind missing_tensor or layer_mismatch) naming
// the file and the tensor, or configuration_error for a malformed spec.
inline layered_model build_layers(checkpoint const& ckpt, layer_spec const& spec) {
    detail::check_spec(spec);
    auto const pattern = detail::layer_pattern::of(spec.pattern);
    std::set<std::string_view> expected;
    for (auto const& t : spec.tensors) expected.insert(t.suffix);

    layered_model out;
    for (auto const& name : ckpt.names()) {
        auto const match = pattern.find(name);
        if (!match) {
            out.outside.emplace(name, ckpt.at(name));
            continue;
        }
        auto const& view = ckpt.at(name);
        if (match->layer >= spec.layers)
            throw error(error_kind::layer_mismatch, view.file, name,
                        "belongs to layer " + std::to_string(match->layer) + ", but the spec has " +
                            std::to_string(spec.layers) + " layers");
        if (!expected.contains(match->suffix))
            throw error(error_kind::layer_mismatch, view.file, name,
                        "matches the layer pattern \"" + spec.pattern + "\" but is not one of the spec's tensors");
    }

    std::optional<dtype> layer_type = spec.type;
    std::string type_source = "the spec";  // what fixed layer_type, for the error message
    out.layers.reserve(spec.layers);
    for (std::size_t i = 0; i < spec.layers; ++i) {
        auto const prefix = pattern.prefix(i);
        std::vector<tensor_view> views;
        std::vector<weight_buffer> buffers;
        for (auto const& want : spec.tensors) {
            auto const name = prefix + want.suffix;
            if (!ckpt.contains(name))
                throw error(error_kind::missing_tensor, ckpt.source(), name,
                            "layer " + std::to_string(i) + " needs it, but the checkpoint has no such tensor");
            auto const& view = ckpt.at(name);
            if (view.shape != want.shape)
                throw error(error_kind::layer_mismatch, view.file, name,
                            "has shape " + detail::shape_text(view.shape) + ", the spec expects " +
                                detail::shape_text(want.shape));
            if (!layer_type) {
                layer_type = view.type;
                type_source = "\"" + name + "\"";
            }
            if (view.type != *layer_type)
                throw error(error_kind::layer_mismatch, view.file, name,
                            std::string("is ") + dtype_name(view.type) + ", but the layers are " +
                                dtype_name(*layer_type) + " (as " + type_source + " says)");
            views.push_back(view);
            buffers.emplace_back(view.data, detail::info_of(view, want.compressible));
        }
        out.model.add_layer(std::move(buffers));
        out.layers.push_back(std::move(views));
    }
    return out;
}

}  // namespace offload::safetensors
