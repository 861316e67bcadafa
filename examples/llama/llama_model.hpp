#pragma once
// A Llama checkpoint directory opened for offload-llama: config.json, the
// safetensors files (one, or the shards of the index) mapped read-only, and an
// offload::model whose layer i holds the 9 tensors of "model.layers.{i}." in
// layer_buffer order. The model's buffers point into the mappings: keep this
// object alive as long as any offloader made from it.
#include <filesystem>
#include <map>
#include <string>

#include <offload/source/safetensors.hpp>
#include <offload/tensor.hpp>

#include "llama_config.hpp"
#include "llama_engine.hpp"

namespace llama {

struct checkpoint_model {
    config cfg;
    offload::safetensors::checkpoint checkpoint;
    offload::safetensors::layered_model layered;
    offload::dtype layer_type;  // of every layer tensor (build_layers checks they share one)

    offload::model const& model() const noexcept { return layered.model; }
    std::map<std::string, offload::safetensors::tensor_view> const& outside() const noexcept { return layered.outside; }

    // Throws config_error or offload::safetensors::error naming the file (and the key or tensor).
    static checkpoint_model open(std::filesystem::path const& dir, offload::safetensors::load_options const& load = {}) {
        auto cfg = config::read(dir / "config.json");
        auto ckpt = offload::safetensors::checkpoint::open(dir);
        offload::safetensors::layer_spec spec;
        spec.pattern = "model.layers.{i}.";
        spec.layers = cfg.num_hidden_layers;
        spec.tensors = layer_tensors(cfg);
        auto layered = offload::safetensors::build_layers(ckpt, spec);
        offload::safetensors::prefault(layered, load);
        offload::dtype const type = layered.layers.front().front().type;
        return {std::move(cfg), std::move(ckpt), std::move(layered), type};
    }
};

}  // namespace llama
