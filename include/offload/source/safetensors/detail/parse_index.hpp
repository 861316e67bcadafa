#pragma once
// model.safetensors.index.json of a sharded checkpoint: its weight_map says
// which shard file holds each tensor. Shard names are plain file names in the
// index's directory; a name with a directory part is refused, so that an index
// cannot point the loader at files elsewhere.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include <offload/source/safetensors/error.hpp>

namespace offload::safetensors::detail {

// tensor name -> shard file name
inline std::map<std::string, std::string> parse_index(std::string_view text, std::filesystem::path const& index) {
    boost::system::error_code ec;
    boost::json::value const root = boost::json::parse(text, ec);
    if (ec) throw error(error_kind::index, index, {}, "the index is not valid JSON: " + ec.message());
    auto const* fields = root.if_object();
    if (fields == nullptr) throw error(error_kind::index, index, {}, "the index is not a JSON object");
    auto const* weight_map = fields->if_contains("weight_map");
    if (weight_map == nullptr || !weight_map->is_object())
        throw error(error_kind::index, index, {}, "the index has no \"weight_map\" object");

    std::map<std::string, std::string> shard_of;
    for (auto const& [name, shard] : weight_map->get_object()) {
        if (!shard.is_string())
            throw error(error_kind::index, index, std::string(name), "the weight_map entry is not a file name");
        std::string_view const file = shard.get_string();
        std::filesystem::path const as_path(file);
        if (file.empty() || as_path.has_parent_path() || file == "." || file == "..")
            throw error(error_kind::index, index, std::string(name),
                        "the shard \"" + std::string(file) + "\" is not a file name in the index's directory");
        shard_of.emplace(name, file);
    }
    return shard_of;
}

}  // namespace offload::safetensors::detail
