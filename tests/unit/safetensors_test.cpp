// The safetensors weight source: good checkpoints load, every bad one is
// refused with an error naming the file and the tensor, layers map as the
// spec says, and an offloader streams exactly the file's bytes.
#include <offload/source/safetensors.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <offload/offload.hpp>

#include "../common/safetensors_writer.hpp"

namespace {

namespace st = offload::safetensors;
namespace w = offload::testing::safetensors;

// Runs fn, expects a safetensors::error of `kind` about `file` and `tensor`
// (empty: none), and that what() names both.
template <class Fn>
void expect_error(st::error_kind kind, std::filesystem::path const& file, std::string const& tensor, Fn&& fn) {
    try {
        fn();
        ADD_FAILURE() << "no error; expected one about " << file << " " << tensor;
    } catch (st::error const& e) {
        std::string const what = e.what();
        EXPECT_EQ(e.kind, kind) << what;
        EXPECT_EQ(e.file, file) << what;
        EXPECT_EQ(e.tensor, tensor) << what;
        EXPECT_NE(what.find(file.string()), std::string::npos) << what;
        if (!tensor.empty()) {
            EXPECT_NE(what.find("\"" + tensor + "\""), std::string::npos) << what;
        }
    }
}

std::vector<float> ramp(std::size_t n, float start) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = start + 0.25f * static_cast<float>(i);
    return v;
}

std::vector<w::tensor> small_model() {
    return {w::bf16("model.embed_tokens.weight", {4, 2}, ramp(8, 1)),
            w::f32("model.norm.weight", {2}, ramp(2, -1)),
            w::bf16("a.weight", {3}, ramp(3, 7))};
}

// ---- good checkpoints ------------------------------------------------------

TEST(safetensors, a_single_file_opens_by_its_path_and_by_its_directory) {
    w::scratch_dir dir;
    auto const tensors = small_model();
    w::write_file(dir / "model.safetensors", tensors, {{"format", "pt"}});

    for (auto const& path : {dir / "model.safetensors", dir.path()}) {
        auto const ckpt = st::checkpoint::open(path);
        EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a.weight", "model.embed_tokens.weight", "model.norm.weight"}));
        EXPECT_EQ(ckpt.total_bytes(), 8 * 2 + 2 * 4 + 3 * 2u);
        for (auto const& t : tensors) {
            ASSERT_TRUE(ckpt.contains(t.name));
            auto const& v = ckpt.at(t.name);
            EXPECT_EQ(v.name, t.name);
            EXPECT_EQ(v.shape, t.shape);
            EXPECT_EQ(v.type, t.dtype == "F32" ? offload::dtype::fp32 : offload::dtype::bf16);
            EXPECT_EQ(v.file, dir / "model.safetensors");
            ASSERT_EQ(v.bytes, t.bytes.size());
            EXPECT_EQ(std::memcmp(v.data, t.bytes.data(), v.bytes), 0) << t.name;
        }
        EXPECT_FALSE(ckpt.contains("model.layers.0.x"));
        EXPECT_EQ(ckpt.metadata().at(dir / "model.safetensors").at("format"), "pt");
    }
}

TEST(safetensors, a_sharded_checkpoint_opens_through_its_index) {
    w::scratch_dir dir;
    std::vector<std::vector<w::tensor>> shards = {
        {w::bf16("x.weight", {2, 2}, ramp(4, 0)), w::f32("y.bias", {2}, ramp(2, 3))},
        {w::bf16("z.weight", {1, 3}, ramp(3, 5))}};
    w::write_sharded(dir.path(), shards);

    auto const ckpt = st::checkpoint::open(dir.path());
    EXPECT_EQ(ckpt.source(), dir / "model.safetensors.index.json");
    EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"x.weight", "y.bias", "z.weight"}));
    for (std::size_t k = 0; k < shards.size(); ++k)
        for (auto const& t : shards[k]) {
            auto const& v = ckpt.at(t.name);
            EXPECT_EQ(v.file, dir / w::shard_name(k, 2));
            ASSERT_EQ(v.bytes, t.bytes.size());
            EXPECT_EQ(std::memcmp(v.data, t.bytes.data(), v.bytes), 0) << t.name;
        }
    EXPECT_EQ(ckpt.total_bytes(), 8 + 8 + 6u);
}

TEST(safetensors, the_checkpoint_moves_with_its_mappings) {
    w::scratch_dir dir;
    w::write_file(dir / "m.safetensors", small_model());
    auto first = st::checkpoint::open(dir / "m.safetensors");
    auto const* data = first.at("a.weight").data;
    st::checkpoint second = std::move(first);
    EXPECT_EQ(second.at("a.weight").data, data);
    EXPECT_EQ(w::bf16_value(static_cast<std::uint16_t>(std::to_integer<unsigned>(data[0]) |
                                                       std::to_integer<unsigned>(data[1]) << 8)),
              7.0f);
}

// Lines of /proc/self/maps that map `file`.
std::size_t mappings_of(std::filesystem::path const& file) {
    std::ifstream maps("/proc/self/maps");
    std::size_t n = 0;
    for (std::string line; std::getline(maps, line);) n += line.ends_with(" " + file.string());
    return n;
}

TEST(safetensors, the_files_are_unmapped_with_the_checkpoint) {
    w::scratch_dir dir;
    w::write_sharded(dir.path(), {{w::bf16("x", {1}, {1})}, {w::bf16("y", {1}, {2})}});
    auto const shard = dir / w::shard_name(1, 2);
    {
        auto const ckpt = st::checkpoint::open(dir.path());
        EXPECT_EQ(mappings_of(shard), 1u);
        EXPECT_EQ(mappings_of(dir / "model.safetensors.index.json"), 0u);  // read, then let go
    }
    EXPECT_EQ(mappings_of(shard), 0u);
}

TEST(safetensors, a_directory_with_an_index_is_read_through_the_index) {
    w::scratch_dir dir;
    w::write_sharded(dir.path(), {{w::bf16("sharded", {1}, {1})}});
    w::write_file(dir / "model.safetensors", {w::bf16("single", {1}, {1})});
    EXPECT_TRUE(st::checkpoint::open(dir.path()).contains("sharded"));
}

// ---- bad files --------------------------------------------------------------

// Writes a file whose header is `header` (raw JSON text) and whose data is
// `data_bytes` bytes, and expects opening it to fail as said.
// `says`, if given, is a part of the message that tells this check from
// others of the same kind.
void expect_bad_header(std::string const& header, std::size_t data_bytes, st::error_kind kind,
                       std::string const& tensor, std::string const& says = "") {
    w::scratch_dir dir;
    auto const file = dir / "bad.safetensors";
    w::write_bytes(file, w::file_bytes(header, std::vector<std::byte>(data_bytes)));
    expect_error(kind, file, tensor, [&] { st::checkpoint::open(file); });
    try {
        st::checkpoint::open(file);
    } catch (st::error const& e) {
        EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
}

TEST(safetensors_bad_file, shorter_than_the_length_field) {
    w::scratch_dir dir;
    auto const file = dir / "short.safetensors";
    w::write_bytes(file, std::vector<std::byte>(5));
    expect_error(st::error_kind::truncated, file, "", [&] { st::checkpoint::open(file); });
    w::write_bytes(file, {});
    expect_error(st::error_kind::truncated, file, "", [&] { st::checkpoint::open(file); });
}

TEST(safetensors_bad_file, shorter_than_its_header_and_data) {
    w::scratch_dir dir;
    auto const file = dir / "cut.safetensors";
    auto bytes = w::file_bytes(small_model());
    bytes.pop_back();  // the last tensor in the data is a.weight
    w::write_bytes(file, bytes);
    expect_error(st::error_kind::truncated, file, "a.weight", [&] { st::checkpoint::open(file); });
}

TEST(safetensors_bad_file, a_header_length_beyond_the_file) {
    w::scratch_dir dir;
    auto const file = dir / "long.safetensors";
    auto bytes = w::file_bytes(small_model());
    std::size_t const past = bytes.size() - 8 + 1;
    for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<std::byte>((past >> (8 * i)) & 0xff);
    w::write_bytes(file, bytes);
    expect_error(st::error_kind::header_length, file, "", [&] { st::checkpoint::open(file); });
    bytes[7] = std::byte{0xff};  // a length near 2^64: no overflow in the bounds check
    w::write_bytes(file, bytes);
    expect_error(st::error_kind::header_length, file, "", [&] { st::checkpoint::open(file); });
}

TEST(safetensors_bad_file, a_header_length_beyond_the_limit) {
    // A sparse file just large enough to hold a header one byte over 100 MB:
    // the limit, not the file's end, must refuse it, before any JSON is parsed.
    w::scratch_dir dir;
    auto const file = dir / "huge.safetensors";
    std::uint64_t const length = st::detail::max_header_bytes + 1;
    std::vector<std::byte> prefix;
    w::append_le(prefix, length);
    w::write_bytes(file, prefix);
    std::filesystem::resize_file(file, 8 + length);
    expect_error(st::error_kind::header_length, file, "", [&] { st::checkpoint::open(file); });
}

TEST(safetensors_bad_file, a_header_that_is_not_json_or_not_an_object) {
    expect_bad_header("{\"a\": {\"dtype\": \"BF16\", ", 0, st::error_kind::header_json, "", "not valid JSON");
    expect_bad_header("[1, 2, 3]", 0, st::error_kind::header_json, "", "not a JSON object");
    expect_bad_header("", 0, st::error_kind::header_json, "");
    expect_bad_header("{\"\xff\xfe\": {}}", 0, st::error_kind::header_json, "");  // not UTF-8
}

TEST(safetensors_bad_file, fields_of_the_wrong_type_or_missing) {
    auto const k = st::error_kind::field_type;
    expect_bad_header(R"({"t": [1]})", 0, k, "t");
    expect_bad_header(R"({"t": {"dtype": 7, "shape": [1], "data_offsets": [0, 2]}})", 2, k, "t");
    expect_bad_header(R"({"t": {"shape": [1], "data_offsets": [0, 2]}})", 2, k, "t");
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": "1", "data_offsets": [0, 2]}})", 2, k, "t");
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [-1], "data_offsets": [0, 2]}})", 2, k, "t");
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [1.0], "data_offsets": [0, 2]}})", 2, k, "t");
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [1]}})", 2, k, "t");
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2, 4]}})", 2, k, "t");
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [1], "data_offsets": [-2, 0]}})", 2, k, "t");
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [1], "data_offsets": {"0": 2}}})", 2, k, "t");
    expect_bad_header(R"({"__metadata__": {"format": 1}})", 0, k, "__metadata__");
    expect_bad_header(R"({"__metadata__": []})", 0, k, "__metadata__");
}

TEST(safetensors_bad_file, offsets_out_of_range) {
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})", 3,
                      st::error_kind::truncated, "t");
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [0], "data_offsets": [4, 2]}})", 4,
                      st::error_kind::offsets, "t", "end before they begin");
}

TEST(safetensors_bad_file, offsets_overlapping_leaving_holes_or_a_tail) {
    auto const k = st::error_kind::offsets;
    expect_bad_header(R"({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
                          "b": {"dtype": "BF16", "shape": [2], "data_offsets": [2, 6]}})",
                      6, k, "b", "overlap");
    expect_bad_header(R"({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]},
                          "b": {"dtype": "BF16", "shape": [1], "data_offsets": [4, 6]}})",
                      6, k, "b", "hole");
    expect_bad_header(R"({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [2, 4]}})", 4, k, "a", "hole");
    expect_bad_header(R"({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}})", 4, k, "a",
                      "belong to no tensor");
}

TEST(safetensors_bad_file, offsets_not_matching_shape_times_dtype_size) {
    expect_bad_header(R"({"t": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8]}})", 8,
                      st::error_kind::offsets, "t", "needs 16");
}

TEST(safetensors_bad_file, an_unknown_dtype_is_named) {
    w::scratch_dir dir;
    auto const file = dir / "i64.safetensors";
    w::write_bytes(file, w::file_bytes(R"({"ids": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})",
                                       std::vector<std::byte>(8)));
    expect_error(st::error_kind::dtype, file, "ids", [&] { st::checkpoint::open(file); });
    try {
        st::checkpoint::open(file);
    } catch (st::error const& e) {
        EXPECT_NE(std::string(e.what()).find("\"I64\""), std::string::npos) << e.what();
    }
}

TEST(safetensors_bad_file, a_shape_whose_product_overflows) {
    auto const k = st::error_kind::shape_overflow;
    expect_bad_header(R"({"t": {"dtype": "BF16", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0, k, "t");
    // Fits in elements, overflows in bytes.
    expect_bad_header(R"({"t": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", 0, k, "t");
}

TEST(safetensors_bad_file, a_missing_tensor_is_named) {
    w::scratch_dir dir;
    w::write_file(dir / "model.safetensors", small_model());
    auto const ckpt = st::checkpoint::open(dir.path());
    expect_error(st::error_kind::missing_tensor, dir / "model.safetensors", "lm_head.weight",
                 [&] { ckpt.at("lm_head.weight"); });
}

TEST(safetensors_bad_file, a_path_or_directory_without_a_checkpoint) {
    w::scratch_dir dir;
    expect_error(st::error_kind::not_found, dir.path(), "", [&] { st::checkpoint::open(dir.path()); });
    expect_error(st::error_kind::not_found, dir / "none.safetensors", "",
                 [&] { st::checkpoint::open(dir / "none.safetensors"); });
}

TEST(safetensors_bad_file, a_path_that_is_not_a_regular_file) {
    // A FIFO would block an ordinary open until a writer came.
    w::scratch_dir dir;
    auto const fifo = dir / "fifo.safetensors";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    expect_error(st::error_kind::io, fifo, "", [&] { st::checkpoint::open(fifo); });
}

TEST(safetensors_bad_index, a_shard_named_in_the_index_but_absent) {
    w::scratch_dir dir;
    w::write_sharded(dir.path(), {{w::bf16("x", {1}, {1})}, {w::bf16("y", {1}, {2})}});
    std::filesystem::remove(dir / w::shard_name(1, 2));
    expect_error(st::error_kind::missing_shard, dir / w::shard_name(1, 2), "y",
                 [&] { st::checkpoint::open(dir.path()); });
}

TEST(safetensors_bad_index, a_tensor_listed_but_not_in_its_shard) {
    w::scratch_dir dir;
    w::write_file(dir / "a.safetensors", {w::bf16("x", {1}, {1})});
    w::write_text(dir / "model.safetensors.index.json",
                  R"({"weight_map": {"x": "a.safetensors", "y": "a.safetensors"}})");
    expect_error(st::error_kind::missing_tensor, dir / "a.safetensors", "y", [&] { st::checkpoint::open(dir.path()); });
}

TEST(safetensors_bad_index, a_tensor_in_two_shards) {
    w::scratch_dir dir;
    w::write_file(dir / "a.safetensors", {w::bf16("x", {1}, {1})});
    w::write_file(dir / "b.safetensors", {w::bf16("x", {1}, {2})});
    w::write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"x": "a.safetensors", "z": "b.safetensors"}})");
    expect_error(st::error_kind::index, dir / "b.safetensors", "x", [&] { st::checkpoint::open(dir.path()); });
}

TEST(safetensors_bad_index, an_index_that_is_not_json_or_lacks_weight_map) {
    w::scratch_dir dir;
    auto const index = dir / "model.safetensors.index.json";
    for (std::string text : {"{\"weight_map\": {", "[]", R"({"metadata": {}})", R"({"weight_map": []})"}) {
        w::write_text(index, text);
        expect_error(st::error_kind::index, index, "", [&] { st::checkpoint::open(dir.path()); });
    }
    w::write_text(index, R"({"weight_map": {"x": 3}})");
    expect_error(st::error_kind::index, index, "x", [&] { st::checkpoint::open(dir.path()); });
}

TEST(safetensors_bad_index, a_shard_outside_the_index_directory) {
    w::scratch_dir dir;
    auto const index = dir / "model.safetensors.index.json";
    for (std::string shard : {"../model.safetensors", "/etc/passwd", "sub/m.safetensors", "", ".", ".."}) {
        w::write_text(index, R"({"weight_map": {"x": ")" + shard + "\"}}");
        expect_error(st::error_kind::index, index, "x", [&] { st::checkpoint::open(dir.path()); });
    }
}

// ---- layers -----------------------------------------------------------------

// Three layers of three tensors, written in an order unlike the spec's, and
// the tensors a Llama checkpoint keeps outside its layers.
std::vector<w::tensor> layered_tensors(std::size_t layers = 3) {
    std::vector<w::tensor> t;
    for (std::size_t i = 0; i < layers; ++i) {
        auto const p = "model.layers." + std::to_string(i) + ".";
        t.push_back(w::patterned(p + "mlp.weight", "BF16", {4, 8}, 2, unsigned(3 * i)));
        t.push_back(w::patterned(p + "norm.weight", "BF16", {8}, 2, unsigned(3 * i + 1)));
        t.push_back(w::patterned(p + "attn.weight", "BF16", {8, 4}, 2, unsigned(3 * i + 2)));
    }
    t.push_back(w::patterned("model.embed_tokens.weight", "BF16", {16, 8}, 2, 100));
    t.push_back(w::patterned("model.norm.weight", "BF16", {8}, 2, 101));
    t.push_back(w::patterned("lm_head.weight", "BF16", {16, 8}, 2, 102));
    return t;
}

st::layer_spec layered_spec(std::size_t layers = 3) {
    st::layer_spec spec;
    spec.layers = layers;
    spec.tensors = {{"attn.weight", {8, 4}}, {"norm.weight", {8}, false}, {"mlp.weight", {4, 8}}};
    return spec;
}

TEST(safetensors_layers, layers_hold_the_spec_tensors_in_order_and_the_rest_is_outside) {
    w::scratch_dir dir;
    w::write_file(dir / "model.safetensors", layered_tensors());
    auto const ckpt = st::checkpoint::open(dir.path());
    auto const layered = st::build_layers(ckpt, layered_spec());

    ASSERT_EQ(layered.model.size(), 3u);
    ASSERT_EQ(layered.layers.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        auto const p = "model.layers." + std::to_string(i) + ".";
        std::vector<std::string> const names = {p + "attn.weight", p + "norm.weight", p + "mlp.weight"};
        auto const& buffers = layered.model.layer(i).buffers();
        ASSERT_EQ(buffers.size(), 3u);
        for (std::size_t b = 0; b < 3; ++b) {
            auto const& view = ckpt.at(names[b]);
            EXPECT_EQ(layered.layers[i][b].name, names[b]);
            EXPECT_EQ(buffers[b].data, view.data);
            EXPECT_EQ(buffers[b].bytes, view.bytes);
            EXPECT_EQ(buffers[b].mode, offload::access::read_only);
            ASSERT_TRUE(buffers[b].tensor.has_value());
            EXPECT_EQ(buffers[b].tensor->name, names[b]);
            EXPECT_EQ(buffers[b].tensor->type, offload::dtype::bf16);
        }
        EXPECT_EQ(*buffers[0].tensor, (offload::tensor_info{names[0], offload::dtype::bf16, 8, 4, true}));
        EXPECT_EQ(*buffers[1].tensor, (offload::tensor_info{names[1], offload::dtype::bf16, 1, 8, false}));
        EXPECT_EQ(*buffers[2].tensor, (offload::tensor_info{names[2], offload::dtype::bf16, 4, 8, true}));
    }
    std::vector<std::string> outside;
    for (auto const& [name, view] : layered.outside) outside.push_back(name);
    EXPECT_EQ(outside, (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"}));
    EXPECT_EQ(layered.outside.at("lm_head.weight").data, ckpt.at("lm_head.weight").data);
}

TEST(safetensors_layers, a_pattern_of_another_naming_scheme) {
    w::scratch_dir dir;
    w::write_file(dir / "m.safetensors", {w::patterned("blk.0.ffn", "F32", {2, 2}, 4, 1),
                                          w::patterned("blk.1.ffn", "F32", {2, 2}, 4, 2),
                                          w::patterned("blk.10x", "F32", {1}, 4, 3),  // not "blk.{i}." : outside
                                          w::patterned("blk.01.ffn", "F32", {1}, 4, 4)});  // a leading zero: outside
    st::layer_spec spec{"blk.{i}.", 2, {{"ffn", {2, 2}}}, offload::dtype::fp32};
    auto const layered = st::build_layers(st::checkpoint::open(dir / "m.safetensors"), spec);
    EXPECT_EQ(layered.model.size(), 2u);
    EXPECT_EQ(layered.layers[1][0].name, "blk.1.ffn");
    EXPECT_EQ(layered.outside.size(), 2u);
}

TEST(safetensors_layers, a_missing_layer_tensor_is_named) {
    w::scratch_dir dir;
    auto tensors = layered_tensors();
    std::erase_if(tensors, [](auto const& t) { return t.name == "model.layers.2.mlp.weight"; });
    w::write_file(dir / "model.safetensors", tensors);
    auto const ckpt = st::checkpoint::open(dir.path());
    expect_error(st::error_kind::missing_tensor, dir / "model.safetensors", "model.layers.2.mlp.weight",
                 [&] { st::build_layers(ckpt, layered_spec()); });
}

TEST(safetensors_layers, a_shape_unlike_the_spec_is_named) {
    w::scratch_dir dir;
    w::write_file(dir / "model.safetensors", layered_tensors());
    auto const ckpt = st::checkpoint::open(dir.path());
    auto spec = layered_spec();
    spec.tensors[2].shape = {8, 4};
    expect_error(st::error_kind::layer_mismatch, dir / "model.safetensors", "model.layers.0.mlp.weight",
                 [&] { st::build_layers(ckpt, spec); });
}

TEST(safetensors_layers, a_dtype_unlike_the_spec_or_the_other_layers_is_named) {
    w::scratch_dir dir;
    auto const file = dir / "model.safetensors";
    auto tensors = layered_tensors();
    for (auto& t : tensors)
        if (t.name == "model.layers.1.norm.weight") t = w::patterned(t.name, "F16", t.shape, 2, 9);
    w::write_file(file, tensors);
    auto const ckpt = st::checkpoint::open(dir.path());
    expect_error(st::error_kind::layer_mismatch, file, "model.layers.1.norm.weight",
                 [&] { st::build_layers(ckpt, layered_spec()); });
    auto spec = layered_spec();
    spec.type = offload::dtype::fp32;
    expect_error(st::error_kind::layer_mismatch, file, "model.layers.0.attn.weight", [&] { st::build_layers(ckpt, spec); });
}

TEST(safetensors_layers, a_layer_tensor_the_spec_does_not_expect_is_named) {
    w::scratch_dir dir;
    auto const file = dir / "model.safetensors";
    auto tensors = layered_tensors();
    tensors.push_back(w::patterned("model.layers.1.attn.bias", "BF16", {8}, 2, 7));
    w::write_file(file, tensors);
    expect_error(st::error_kind::layer_mismatch, file, "model.layers.1.attn.bias",
                 [&] { st::build_layers(st::checkpoint::open(file), layered_spec()); });
    // More layers in the file than in the spec.
    w::write_file(file, layered_tensors(4));
    expect_error(st::error_kind::layer_mismatch, file, "model.layers.3.attn.weight",
                 [&] { st::build_layers(st::checkpoint::open(file), layered_spec(3)); });
}

TEST(safetensors_layers, a_malformed_spec_is_a_configuration_error) {
    w::scratch_dir dir;
    w::write_file(dir / "model.safetensors", layered_tensors());
    auto const ckpt = st::checkpoint::open(dir.path());
    auto spec = layered_spec();
    spec.pattern = "model.layers.";
    EXPECT_THROW(st::build_layers(ckpt, spec), offload::configuration_error);
    spec.pattern = "{i}.{i}.";
    EXPECT_THROW(st::build_layers(ckpt, spec), offload::configuration_error);
    EXPECT_THROW(st::build_layers(ckpt, layered_spec(0)), offload::configuration_error);
    spec = layered_spec();
    spec.tensors.push_back(spec.tensors[0]);
    EXPECT_THROW(st::build_layers(ckpt, spec), offload::configuration_error);
    spec = layered_spec();
    spec.tensors[0].shape = {8, 0};
    EXPECT_THROW(st::build_layers(ckpt, spec), offload::configuration_error);
}

// ---- prefault ---------------------------------------------------------------

TEST(safetensors_prefault, progress_is_printed_past_the_threshold_unless_quiet) {
    w::scratch_dir dir;
    w::write_file(dir / "model.safetensors", layered_tensors());
    auto const ckpt = st::checkpoint::open(dir.path());
    auto const layered = st::build_layers(ckpt, layered_spec());

    std::ostringstream fast;
    st::prefault(layered, {.progress = &fast});  // far under 1 s
    EXPECT_EQ(fast.str(), "");

    std::ostringstream slow;
    st::prefault(layered, {.progress = &slow, .progress_after = std::chrono::steady_clock::duration::zero()});
    EXPECT_NE(slow.str().find("loaded 0.0 of 0.0 MB"), std::string::npos) << slow.str();
    EXPECT_NE(slow.str().find("MB/s"), std::string::npos) << slow.str();

    std::ostringstream quiet;
    st::prefault(layered, {.quiet = true, .progress = &quiet, .progress_after = std::chrono::steady_clock::duration::zero()});
    EXPECT_EQ(quiet.str(), "");
}

// ---- an offloader over a checkpoint -------------------------------------------

TEST(safetensors_offloader, every_layer_streams_the_bytes_of_its_file) {
    w::scratch_dir dir;
    auto const tensors = layered_tensors(6);
    w::write_sharded(dir.path(), {std::vector(tensors.begin(), tensors.begin() + 9),
                                  std::vector(tensors.begin() + 9, tensors.end())});
    auto const ckpt = st::checkpoint::open(dir.path());
    auto const layered = st::build_layers(ckpt, layered_spec(6));
    st::prefault(layered, {.quiet = true});

    for (auto mode : {offload::host_memory::copy_to_pinned, offload::host_memory::register_caller}) {
        auto cfg = offload::presets::manual(2);
        cfg.host_memory_mode = mode;
        offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::lookahead<2>,
                                 offload::profile::none>
            off(layered.model, cfg);
        std::size_t seen = 0;
        for (auto layer : off.pass()) {
            auto const i = layer.index();
            for (std::size_t b = 0; b < 3; ++b) {
                auto const& want = *std::find_if(tensors.begin(), tensors.end(), [&](auto const& t) {
                    return t.name == layered.layers[i][b].name;
                });
                ASSERT_EQ(layered.model.layer(i).buffers()[b].bytes, want.bytes.size());
                EXPECT_EQ(std::memcmp(layer.buffer(b), want.bytes.data(), want.bytes.size()), 0)
                    << want.name << " in layer " << i;
                EXPECT_NE(layer.buffer(b), static_cast<void const*>(layered.layers[i][b].data)) << "not a device copy";
            }
            ++seen;
        }
        EXPECT_EQ(seen, 6u);
    }
}

}  // namespace
