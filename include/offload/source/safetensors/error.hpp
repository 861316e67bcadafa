#pragma once
// The one error type of the safetensors weight source. Every check of a file,
// an index or a layer mapping throws it, naming the file and, where there is
// one, the tensor; `kind` says which check failed, so that a caller (or a
// test) can tell a truncated file from a bad offset without parsing what().
#include <filesystem>
#include <string>

#include <offload/errors.hpp>

namespace offload::safetensors {

enum class error_kind {
    not_found,       // the path, or a directory's model.safetensors, does not exist
    io,              // the file exists but cannot be opened, read or mapped
    truncated,       // shorter than 8 bytes, or than its header and the data the header describes
    header_length,   // the 8-byte header length runs past the file, or past the 100 MB limit
    header_json,     // the header is not JSON (or not UTF-8), or not a JSON object
    field_type,      // a field is missing or has the wrong JSON type
    offsets,         // data_offsets out of order, overlapping, leaving holes, or not shape x dtype
    dtype,           // a dtype other than BF16, F16 and F32
    shape_overflow,  // the product of a shape (times the dtype size) overflows
    missing_tensor,  // a tensor asked for, or listed in the index, is not there
    missing_shard,   // a shard named in the index does not exist
    index,           // model.safetensors.index.json is not JSON, lacks weight_map, or disagrees with its shards
    layer_mismatch,  // build_layers: a layer tensor's shape or dtype is not the expected one, or is not expected
};

constexpr char const* error_kind_name(error_kind k) noexcept {
    switch (k) {
        case error_kind::not_found: return "not_found";
        case error_kind::io: return "io";
        case error_kind::truncated: return "truncated";
        case error_kind::header_length: return "header_length";
        case error_kind::header_json: return "header_json";
        case error_kind::field_type: return "field_type";
        case error_kind::offsets: return "offsets";
        case error_kind::dtype: return "dtype";
        case error_kind::shape_overflow: return "shape_overflow";
        case error_kind::missing_tensor: return "missing_tensor";
        case error_kind::missing_shard: return "missing_shard";
        case error_kind::index: return "index";
        case error_kind::layer_mismatch: return "layer_mismatch";
    }
    return "unknown";
}

struct error : offload::error {
    error(error_kind kind, std::filesystem::path file, std::string tensor, std::string const& problem)
        : offload::error(message(file, tensor, problem)), kind(kind), file(std::move(file)), tensor(std::move(tensor)) {}

    error_kind kind;
    std::filesystem::path file;
    std::string tensor;  // empty when the problem is the file's, not a tensor's

private:
    static std::string message(std::filesystem::path const& file, std::string const& tensor, std::string const& problem) {
        std::string m = "offload: safetensors: " + file.string() + ": ";
        if (!tensor.empty()) m += "tensor \"" + tensor + "\": ";
        return m + problem;
    }
};

}  // namespace offload::safetensors
