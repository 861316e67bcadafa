#pragma once
// Test support: writes safetensors files (single, or sharded with an index)
// from float vectors, plus raw headers and byte strings for the bad-file
// tests. The header is written as the reference implementation writes it:
// tensors in the order given, data back to back, the JSON padded with spaces
// to a multiple of 8 bytes.
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>

namespace offload::testing::safetensors {

struct tensor {
    std::string name;
    std::string dtype;  // as the header spells it: "BF16", "F16", "F32", ...
    std::vector<std::size_t> shape;
    std::vector<std::byte> bytes;
};

// float -> bf16 with round-to-nearest-even (NaN stays a quiet NaN).
inline std::uint16_t bf16_bits(float value) {
    auto const bits = std::bit_cast<std::uint32_t>(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
    return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}
inline float bf16_value(std::uint16_t bits) { return std::bit_cast<float>(std::uint32_t(bits) << 16); }

template <class T>
void append_le(std::vector<std::byte>& out, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out.push_back(static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xffu));
}

inline tensor bf16(std::string name, std::vector<std::size_t> shape, std::vector<float> const& values) {
    tensor t{std::move(name), "BF16", std::move(shape), {}};
    for (float v : values) append_le(t.bytes, bf16_bits(v));
    return t;
}
inline tensor f32(std::string name, std::vector<std::size_t> shape, std::vector<float> const& values) {
    tensor t{std::move(name), "F32", std::move(shape), {}};
    for (float v : values) append_le(t.bytes, std::bit_cast<std::uint32_t>(v));
    return t;
}
// A tensor of `element_bytes`-sized elements whose bytes are a pattern that
// differs from tensor to tensor (by `seed`): for tests that compare bytes.
inline tensor patterned(std::string name, std::string dtype, std::vector<std::size_t> shape, std::size_t element_bytes,
                        unsigned seed) {
    std::size_t n = element_bytes;
    for (auto e : shape) n *= e;
    tensor t{std::move(name), std::move(dtype), std::move(shape), std::vector<std::byte>(n)};
    for (std::size_t i = 0; i < n; ++i) t.bytes[i] = static_cast<std::byte>((i * 131 + seed * 17 + (i >> 8)) & 0xffu);
    return t;
}

inline std::string header_json(std::vector<tensor> const& tensors, std::map<std::string, std::string> const& metadata = {}) {
    boost::json::object header;
    if (!metadata.empty()) {
        boost::json::object m;
        for (auto const& [k, v] : metadata) m[k] = v;
        header["__metadata__"] = std::move(m);
    }
    std::size_t offset = 0;
    for (auto const& t : tensors) {
        boost::json::array shape;
        for (auto e : t.shape) shape.push_back(e);
        header[t.name] = {{"dtype", t.dtype},
                          {"shape", std::move(shape)},
                          {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    return boost::json::serialize(header);
}

// The 8-byte little-endian length, the header (padded with spaces to a
// multiple of 8 bytes), then the data.
inline std::vector<std::byte> file_bytes(std::string header, std::span<std::byte const> data) {
    header.append((8 - header.size() % 8) % 8, ' ');
    std::vector<std::byte> out;
    append_le(out, std::uint64_t{header.size()});
    for (char c : header) out.push_back(static_cast<std::byte>(c));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}
inline std::vector<std::byte> data_of(std::vector<tensor> const& tensors) {
    std::vector<std::byte> data;
    for (auto const& t : tensors) data.insert(data.end(), t.bytes.begin(), t.bytes.end());
    return data;
}
inline std::vector<std::byte> file_bytes(std::vector<tensor> const& tensors,
                                         std::map<std::string, std::string> const& metadata = {}) {
    return file_bytes(header_json(tensors, metadata), data_of(tensors));
}

inline void write_bytes(std::filesystem::path const& path, std::span<std::byte const> bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<char const*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}
inline void write_text(std::filesystem::path const& path, std::string const& text) {
    write_bytes(path, std::as_bytes(std::span(text.data(), text.size())));
}
inline void write_file(std::filesystem::path const& path, std::vector<tensor> const& tensors,
                       std::map<std::string, std::string> const& metadata = {}) {
    write_bytes(path, file_bytes(tensors, metadata));
}

// model-0000k-of-0000n.safetensors for each shard, and
// model.safetensors.index.json mapping each tensor to its shard, as
// transformers' save_pretrained writes them.
inline std::string shard_name(std::size_t k, std::size_t n) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k + 1, n);
    return name;
}
inline void write_sharded(std::filesystem::path const& dir, std::vector<std::vector<tensor>> const& shards) {
    std::filesystem::create_directories(dir);
    boost::json::object weight_map;
    std::size_t total = 0;
    for (std::size_t k = 0; k < shards.size(); ++k) {
        write_file(dir / shard_name(k, shards.size()), shards[k]);
        for (auto const& t : shards[k]) {
            weight_map[t.name] = shard_name(k, shards.size());
            total += t.bytes.size();
        }
    }
    boost::json::object index{{"metadata", {{"total_size", total}}}, {"weight_map", std::move(weight_map)}};
    write_text(dir / "model.safetensors.index.json", boost::json::serialize(index));
}

// A fresh directory under the system's temporary directory, removed with
// everything in it when the object goes.
class scratch_dir {
public:
    scratch_dir() {
        static std::atomic<unsigned> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("offload-safetensors-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    scratch_dir(scratch_dir const&) = delete;
    scratch_dir& operator=(scratch_dir const&) = delete;
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::filesystem::path const& path() const noexcept { return path_; }
    std::filesystem::path operator/(std::string const& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

}  // namespace offload::testing::safetensors
