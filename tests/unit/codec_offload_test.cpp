// Transfer codecs through the offloader on the host backend: what each layer's
// compute reads is the codec's decode of its weights, whether the layer is
// resident or streamed; exact buffers stay exact; the stats say what moved,
// what it stood for, what decoding cost and what error each buffer carries.
#include <offload/codec/detail/encoded_layer.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include <offload/codec/int4.hpp>
#include <offload/codec/int8.hpp>
#include <offload/codec/lossless.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/profile/events.hpp>
#include <offload/summary.hpp>

namespace {

constexpr std::size_t rows = 64, cols = 300, norm = 300;

std::uint16_t to_bf16(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    return static_cast<std::uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

// Each layer: a compressible bf16 matrix, an exact norm vector, and a
// read-write state buffer without tensor_info.
struct stack {
    explicit stack(std::size_t layers) : w(layers), n(layers), state(layers, std::vector<std::uint32_t>(16, 0)) {
        std::mt19937 gen(3);
        std::normal_distribution<float> g(0.0f, 0.02f);
        for (std::size_t i = 0; i < layers; ++i) {
            for (std::size_t k = 0; k < rows * cols; ++k) w[i].push_back(to_bf16(g(gen)));
            for (std::size_t k = 0; k < norm; ++k) n[i].push_back(to_bf16(1.0f + g(gen)));
            offload::tensor_info exact{"norm" + std::to_string(i), offload::dtype::bf16, 1, norm};
            exact.compressible = false;  // stays exact whatever the codec
            m.add_layer({offload::weight_buffer(w[i].data(), offload::tensor_info{"w" + std::to_string(i), offload::dtype::bf16, rows, cols}),
                         offload::weight_buffer(n[i].data(), exact),
                         {state[i].data(), state[i].size() * 4, offload::access::read_write}});
        }
    }
    std::vector<std::vector<std::uint16_t>> w, n;
    std::vector<std::vector<std::uint32_t>> state;
    offload::model m;
};

template <class Codec>
using offloader = offload::layer_offloader<offload::backend::host, offload::residency::first_n,
                                           offload::prefetch::lookahead<2>, offload::profile::events, Codec>;

template <class Codec>
void every_layer_reads_the_decoded_weights() {
    constexpr std::size_t layers = 5, passes = 2;
    stack s(layers);
    offloader<Codec> off(s.m, offload::presets::manual(2));
    for (std::size_t p = 0; p < passes; ++p)
        for (auto layer : off.pass()) {
            auto const i = layer.index();
            std::vector<std::uint16_t> expected(rows * cols);
            auto const e = offload::codec::detail::encode_layer<Codec>(s.m.layer(i), i);
            Codec::decode(e.buffers[0].tensor, e.bytes.data() + e.buffers[0].offset, e.buffers[0].bytes, expected.data());
            EXPECT_EQ(std::memcmp(layer.buffer(0), expected.data(), rows * cols * 2), 0) << "layer " << i;
            EXPECT_EQ(std::memcmp(layer.buffer(1), s.n[i].data(), norm * 2), 0) << "norm of layer " << i;
            layer.template buffer_as<std::uint32_t>(2)[0] += 1;
        }
    off.synchronize();
    off.write_back_resident();
    for (std::size_t i = 0; i < layers; ++i) {
        auto const* state = off.is_resident(i) ? s.state[i].data() : static_cast<std::uint32_t const*>(off.host_buffer(i, 2));
        EXPECT_EQ(state[0], passes) << "state of layer " << i;
    }
    auto const st = off.statistics();
    EXPECT_EQ(st.codec, Codec::name);
    EXPECT_LT(st.counts.bytes_host_to_device, st.counts.logical_bytes_host_to_device);
    EXPECT_EQ(st.counts.logical_bytes_host_to_device, passes * (layers - 2) * s.m.layer(0).payload_bytes());
    ASSERT_EQ(st.codec_buffers.size(), layers);  // one compressible matrix a layer
    for (auto const& b : st.codec_buffers) {
        EXPECT_EQ(b.buffer, 0u);
        EXPECT_LT(b.encoded_bytes, b.logical_bytes);
        EXPECT_EQ(b.relative_l2_error.has_value(), !Codec::lossless);
    }
    ASSERT_TRUE(st.timing && st.timing->decode_ms && st.timing->effective_h2d_gb_per_s);
    EXPECT_GT(*st.timing->effective_h2d_gb_per_s, *st.timing->h2d_gb_per_s);
    for (auto const& l : st.layers) EXPECT_EQ(l.decode_ms.has_value(), !l.resident) << l.index;
    std::ostringstream summary;
    offload::write_summary(summary, st);
    EXPECT_NE(summary.str().find(std::string("codec ") + Codec::name + ": moved"), std::string::npos) << summary.str();
    EXPECT_NE(summary.str().find("decode"), std::string::npos) << summary.str();
}

TEST(codec_offload, int8_layers_read_the_decoded_weights) { every_layer_reads_the_decoded_weights<offload::codec::int8>(); }
TEST(codec_offload, int4_layers_read_the_decoded_weights) { every_layer_reads_the_decoded_weights<offload::codec::int4>(); }
TEST(codec_offload, lossless_layers_read_the_weights_bit_for_bit) {
    every_layer_reads_the_decoded_weights<offload::codec::lossless_bf16>();
    stack s(3);
    offloader<offload::codec::lossless_bf16> off(s.m, offload::presets::manual(0));
    for (auto layer : off.pass())
        EXPECT_EQ(std::memcmp(layer.buffer(0), s.w[layer.index()].data(), rows * cols * 2), 0);
}

TEST(codec_offload, codec_none_keeps_the_stats_of_an_uncompressed_run) {
    stack s(4);
    offloader<offload::codec::none> off(s.m, offload::presets::manual(1));
    for (auto layer : off.pass()) (void)layer;
    auto const st = off.statistics();
    EXPECT_EQ(st.codec, "none");
    EXPECT_TRUE(st.codec_buffers.empty());
    EXPECT_EQ(st.counts.logical_bytes_host_to_device, 3 * s.m.layer(0).payload_bytes());
    ASSERT_TRUE(st.timing);
    EXPECT_FALSE(st.timing->decode_ms);
}

}  // namespace
