#pragma once
// The safetensors header parser: the security boundary of the weight source.
// It reads a whole file's bytes (a mapping, or any buffer: the fuzz test
// feeds it arbitrary ones) and trusts nothing in them. Every length, offset
// and shape is checked against the buffer before a pointer is formed, with
// the rules of the reference implementation: the header length fits the file
// and 100 MB; the header is a UTF-8 JSON object; each tensor's offsets are
// ordered, lie within the data, hold exactly shape x dtype size bytes, and the
// tensors, sorted by offset, tile the data with no hole, overlap or tail.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <boost/json.hpp>

#include <offload/source/safetensors/error.hpp>
#include <offload/source/safetensors/tensor_view.hpp>

namespace offload::safetensors::detail {

inline constexpr std::size_t header_length_bytes = 8;
// The reference implementation's limit: it bounds what a hostile length
// field can make the JSON parser allocate.
inline constexpr std::uint64_t max_header_bytes = 100'000'000;

struct parsed_header {
    std::vector<tensor_view> tensors;  // in the order of their data
    std::map<std::string, std::string> metadata;
};

inline std::optional<dtype> dtype_from_name(std::string_view name) {
    if (name == "BF16") return dtype::bf16;
    if (name == "F16") return dtype::fp16;
    if (name == "F32") return dtype::fp32;
    return std::nullopt;
}

// A JSON number that is a non-negative integer (not 1.0, not -1).
inline std::optional<std::uint64_t> as_count(boost::json::value const& v) {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    return std::nullopt;
}

inline std::string shape_text(std::vector<std::size_t> const& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

struct tensor_entry {
    tensor_view view;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

inline tensor_entry parse_entry(std::string const& name, boost::json::value const& value,
                                std::filesystem::path const& file) {
    auto fail = [&](error_kind kind, std::string const& problem) { return error(kind, file, name, problem); };
    auto const* fields = value.if_object();
    if (fields == nullptr) throw fail(error_kind::field_type, "the header entry is not a JSON object");

    auto const* dtype_field = fields->if_contains("dtype");
    if (dtype_field == nullptr || !dtype_field->is_string())
        throw fail(error_kind::field_type, "\"dtype\" is missing or not a string");
    std::string_view const dtype_name = dtype_field->get_string();
    auto const type = dtype_from_name(dtype_name);
    if (!type)
        throw fail(error_kind::dtype,
                   "dtype \"" + std::string(dtype_name) + "\" is not supported (supported: BF16, F16, F32)");

    auto const* shape_field = fields->if_contains("shape");
    if (shape_field == nullptr || !shape_field->is_array())
        throw fail(error_kind::field_type, "\"shape\" is missing or not an array");
    std::vector<std::size_t> shape;
    std::size_t elements = 1;
    bool overflow = false;
    for (auto const& extent : shape_field->get_array()) {
        auto const n = as_count(extent);
        if (!n) throw fail(error_kind::field_type, "\"shape\" holds something other than a non-negative integer");
        shape.push_back(static_cast<std::size_t>(*n));
        overflow = overflow || (*n != 0 && elements > std::numeric_limits<std::size_t>::max() / *n);
        elements *= static_cast<std::size_t>(*n);
    }
    std::size_t const element_bytes = dtype_size(*type);
    if (overflow || elements > std::numeric_limits<std::size_t>::max() / element_bytes)
        throw fail(error_kind::shape_overflow,
                   "shape " + shape_text(shape) + " of " + std::string(dtype_name) + " overflows a byte count");

    auto const* offsets_field = fields->if_contains("data_offsets");
    if (offsets_field == nullptr || !offsets_field->is_array() || offsets_field->get_array().size() != 2)
        throw fail(error_kind::field_type, "\"data_offsets\" is missing or not an array of two integers");
    auto const begin = as_count(offsets_field->get_array()[0]);
    auto const end = as_count(offsets_field->get_array()[1]);
    if (!begin || !end) throw fail(error_kind::field_type, "\"data_offsets\" holds something other than a non-negative integer");
    std::string const offsets = "data_offsets [" + std::to_string(*begin) + ", " + std::to_string(*end) + "]";
    if (*end < *begin) throw fail(error_kind::offsets, offsets + " end before they begin");
    std::size_t const bytes = elements * element_bytes;
    if (*end - *begin != bytes)
        throw fail(error_kind::offsets, offsets + " hold " + std::to_string(*end - *begin) + " bytes, but shape " +
                                            shape_text(shape) + " of " + std::string(dtype_name) + " needs " +
                                            std::to_string(bytes));

    tensor_entry entry;
    entry.view = tensor_view{name, *type, std::move(shape), nullptr, bytes, file};
    entry.begin = *begin;
    entry.end = *end;
    return entry;
}

inline std::map<std::string, std::string> parse_metadata(boost::json::value const& value,
                                                         std::filesystem::path const& file) {
    auto const* fields = value.if_object();
    if (fields == nullptr) throw error(error_kind::field_type, file, "__metadata__", "is not a JSON object");
    std::map<std::string, std::string> metadata;
    for (auto const& [key, v] : *fields) {
        if (!v.is_string())
            throw error(error_kind::field_type, file, "__metadata__",
                        "the value of \"" + std::string(key) + "\" is not a string");
        metadata.emplace(key, v.get_string());
    }
    return metadata;
}

// `file` is the whole file; `path` only names it in errors.
inline parsed_header parse_header(std::span<std::byte const> file, std::filesystem::path const& path) {
    if (file.size() < header_length_bytes)
        throw error(error_kind::truncated, path, {},
                    "the file is " + std::to_string(file.size()) + " bytes, shorter than the 8-byte header length");
    std::uint64_t header_bytes = 0;
    for (std::size_t i = 0; i < header_length_bytes; ++i)
        header_bytes |= std::uint64_t(std::to_integer<unsigned char>(file[i])) << (8 * i);
    std::size_t const after_length = file.size() - header_length_bytes;
    if (header_bytes > after_length)
        throw error(error_kind::header_length, path, {},
                    "the header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
                        std::to_string(after_length) + " bytes follow the length field)");
    if (header_bytes > max_header_bytes)
        throw error(error_kind::header_length, path, {},
                    "the header length " + std::to_string(header_bytes) + " exceeds the limit of " +
                        std::to_string(max_header_bytes) + " bytes");

    std::string_view const text(reinterpret_cast<char const*>(file.data() + header_length_bytes),
                                static_cast<std::size_t>(header_bytes));
    boost::system::error_code ec;
    boost::json::value const header = boost::json::parse(text, ec);
    if (ec) throw error(error_kind::header_json, path, {}, "the header is not valid JSON: " + ec.message());
    auto const* entries = header.if_object();
    if (entries == nullptr) throw error(error_kind::header_json, path, {}, "the header is not a JSON object");

    parsed_header parsed;
    std::vector<tensor_entry> tensors;
    tensors.reserve(entries->size());
    for (auto const& [key, value] : *entries) {
        if (key == "__metadata__")
            parsed.metadata = parse_metadata(value, path);
        else
            tensors.push_back(parse_entry(std::string(key), value, path));
    }

    std::sort(tensors.begin(), tensors.end(),
              [](tensor_entry const& a, tensor_entry const& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
    std::byte const* const data = file.data() + header_length_bytes + header_bytes;
    std::size_t const data_bytes = after_length - static_cast<std::size_t>(header_bytes);
    std::uint64_t covered = 0;  // the data before this offset belongs to the tensors seen so far
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        auto& t = tensors[i];
        std::string const offsets = "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
        if (t.begin < covered)
            throw error(error_kind::offsets, path, t.view.name,
                        offsets + " overlap the data of \"" + tensors[i - 1].view.name + "\"");
        if (t.begin > covered)
            throw error(error_kind::offsets, path, t.view.name,
                        offsets + " leave a hole: no tensor holds the data bytes [" + std::to_string(covered) +
                            ", " + std::to_string(t.begin) + ")");
        if (t.end > data_bytes)
            throw error(error_kind::truncated, path, t.view.name,
                        offsets + " run past the end of the data (" + std::to_string(data_bytes) +
                            " bytes after the header): the file is truncated or the offsets are wrong");
        t.view.data = data + t.begin;
        covered = t.end;
    }
    if (covered != data_bytes)
        throw error(error_kind::offsets, path, tensors.empty() ? std::string() : tensors.back().view.name,
                    std::to_string(data_bytes - covered) + " bytes at the end of the data belong to no tensor");

    parsed.tensors.reserve(tensors.size());
    for (auto& t : tensors) parsed.tensors.push_back(std::move(t.view));
    return parsed;
}

}  // namespace offload::safetensors::detail
