#pragma once
// A safetensors checkpoint: one file, or the shards an index lists, each
// memory-mapped read-only and checked in full before any tensor is handed
// out. Movable, not copyable; the tensor views point into its mappings and
// are valid while it lives.
#include <cstddef>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <offload/source/safetensors/detail/mapped_file.hpp>
#include <offload/source/safetensors/detail/parse_header.hpp>
#include <offload/source/safetensors/detail/parse_index.hpp>
#include <offload/source/safetensors/error.hpp>
#include <offload/source/safetensors/tensor_view.hpp>

namespace offload::safetensors {

inline constexpr char const* single_file_name = "model.safetensors";
inline constexpr char const* index_file_name = "model.safetensors.index.json";

class checkpoint {
public:
    // `path` is a .safetensors file, an index file, or a directory holding
    // model.safetensors.index.json (preferred) or model.safetensors.
    static checkpoint open(std::filesystem::path const& path) {
        std::error_code ec;
        auto const status = std::filesystem::status(path, ec);
        if (std::filesystem::is_directory(status)) {
            if (std::filesystem::exists(path / index_file_name, ec)) return open_index(path / index_file_name);
            if (std::filesystem::exists(path / single_file_name, ec)) return open_file(path / single_file_name);
            throw error(error_kind::not_found, path, {},
                        std::string("the directory holds neither ") + index_file_name + " nor " + single_file_name);
        }
        if (!std::filesystem::exists(status)) throw error(error_kind::not_found, path, {}, "no such file or directory");
        if (path.filename().string().ends_with(".index.json")) return open_index(path);
        return open_file(path);
    }

    checkpoint(checkpoint&&) noexcept = default;
    checkpoint& operator=(checkpoint&&) noexcept = default;
    checkpoint(checkpoint const&) = delete;
    checkpoint& operator=(checkpoint const&) = delete;

    bool contains(std::string const& name) const { return tensors_.contains(name); }
    tensor_view const& at(std::string const& name) const {
        auto const found = tensors_.find(name);
        if (found == tensors_.end())
            throw error(error_kind::missing_tensor, source_, name, "no such tensor in the checkpoint");
        return found->second;
    }
    std::vector<std::string> names() const {  // sorted
        std::vector<std::string> n;
        n.reserve(tensors_.size());
        for (auto const& [name, view] : tensors_) n.push_back(name);
        return n;
    }
    std::size_t size() const noexcept { return tensors_.size(); }
    // Bytes of tensor data in all files (headers not counted).
    std::size_t total_bytes() const noexcept {
        std::size_t n = 0;
        for (auto const& [name, view] : tensors_) n += view.bytes;
        return n;
    }
    // The file or index that was opened: what errors about the whole checkpoint name.
    std::filesystem::path const& source() const noexcept { return source_; }
    // The __metadata__ of each file, by file.
    std::map<std::filesystem::path, std::map<std::string, std::string>> const& metadata() const noexcept {
        return metadata_;
    }

private:
    explicit checkpoint(std::filesystem::path source) : source_(std::move(source)) {}

    static checkpoint open_file(std::filesystem::path const& file) {
        checkpoint c(file);
        c.add_file(file);
        return c;
    }

    static checkpoint open_index(std::filesystem::path const& index) {
        detail::mapped_file const index_file(index);
        auto const bytes = index_file.bytes();
        if (bytes.size() > detail::max_header_bytes)
            throw error(error_kind::index, index, {},
                        "the index is " + std::to_string(bytes.size()) + " bytes, more than the limit of " +
                            std::to_string(detail::max_header_bytes));
        auto const shard_of =
            detail::parse_index(std::string_view(reinterpret_cast<char const*>(bytes.data()), bytes.size()), index);

        checkpoint c(index);
        auto const directory = index.parent_path();
        std::set<std::string> opened;
        for (auto const& [name, shard] : shard_of) {
            if (!opened.insert(shard).second) continue;
            auto const file = directory / shard;
            std::error_code ec;
            if (!std::filesystem::exists(file, ec))
                throw error(error_kind::missing_shard, file, name,
                            "the shard that " + index.string() + " names for this tensor does not exist");
            c.add_file(file);
        }
        for (auto const& [name, shard] : shard_of) {
            auto const found = c.tensors_.find(name);
            if (found == c.tensors_.end() || found->second.file != directory / shard)
                throw error(error_kind::missing_tensor, directory / shard, name,
                            "listed in " + index.string() + " but not in this shard");
        }
        return c;
    }

    void add_file(std::filesystem::path const& file) {
        detail::mapped_file mapping(file);
        auto parsed = detail::parse_header(mapping.bytes(), file);
        for (auto& view : parsed.tensors) {
            auto const [at, inserted] = tensors_.try_emplace(view.name, view);
            if (!inserted)
                throw error(error_kind::index, file, view.name,
                            "the tensor is also in " + at->second.file.string() + "; a tensor must be in one shard");
        }
        metadata_.emplace(file, std::move(parsed.metadata));
        files_.push_back(std::move(mapping));
    }

    std::filesystem::path source_;
    std::vector<detail::mapped_file> files_;  // the mappings the views point into
    std::map<std::string, tensor_view> tensors_;
    std::map<std::filesystem::path, std::map<std::string, std::string>> metadata_;
};

}  // namespace offload::safetensors
