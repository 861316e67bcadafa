// A tensor-parallel shard of the example's FFN stack (examples/ffn/tp_shard.hpp)
// holds exactly the whole model's values where it should: the norm whole,
// rows of gate and up, columns of down. Odd sizes, so that the ranges start
// off the generator's groups of four.
#include "tp_shard.hpp"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include <offload/errors.hpp>

#include "ffn_host.hpp"
#include "ffn_random.hpp"

namespace {

constexpr ffn::dims full{30, 90, 1};
constexpr std::size_t layers = 2;
constexpr std::uint64_t seed = 5;

std::uint16_t at(ffn::tp::shard const& s, std::size_t layer, std::size_t buffer, std::size_t i) {
    return static_cast<std::uint16_t const*>(s.blocks[layer][buffer].get())[i];
}

TEST(tp_shard, holds_the_whole_models_values_of_its_rows_and_columns) {
    std::size_t const H = full.hidden, F = full.ffn;
    for (int ranks : {1, 2, 3}) {
        std::size_t const f = F / static_cast<std::size_t>(ranks);
        for (int rank = 0; rank < ranks; ++rank) {
            auto const s = ffn::tp::make_shard(full, seed, layers, rank, ranks, 2);
            ASSERT_EQ(s.local.ffn, f);
            EXPECT_EQ(s.layer_bytes(), 2 * (H + 3 * f * H));
            std::size_t const r = static_cast<std::size_t>(rank);
            for (std::size_t l = 0; l < layers; ++l) {
                auto const w = ffn::make_layer_weights_f32(full, seed, l);
                auto bf16 = [&](std::size_t b, std::size_t i) { return ffn::float_to_bf16(w[b][i]); };
                for (std::size_t i = 0; i < H; ++i) ASSERT_EQ(at(s, l, 0, i), bf16(0, i)) << "norm " << i;
                for (std::size_t row = 0; row < f; ++row)
                    for (std::size_t c = 0; c < H; ++c) {
                        ASSERT_EQ(at(s, l, 1, row * H + c), bf16(1, (r * f + row) * H + c)) << ranks << " ranks, gate";
                        ASSERT_EQ(at(s, l, 2, row * H + c), bf16(2, (r * f + row) * H + c)) << ranks << " ranks, up";
                    }
                for (std::size_t h = 0; h < H; ++h)
                    for (std::size_t c = 0; c < f; ++c)
                        ASSERT_EQ(at(s, l, 3, h * f + c), bf16(3, h * F + r * f + c)) << ranks << " ranks, down";
            }
        }
    }
}

TEST(tp_shard, describes_each_buffer_with_its_shard_shape) {
    auto const s = ffn::tp::make_shard(full, seed, layers, 1, 2, 1);
    auto const m = ffn::tp::describe(s, 1);
    ASSERT_EQ(m.layers().size(), layers);
    auto const& buffers = m.layer(1).buffers();
    ASSERT_EQ(buffers.size(), 4u);
    EXPECT_EQ(buffers[0].tensor->cols, 30u);  // the norm: hidden, whole
    EXPECT_EQ(buffers[1].tensor->rows, 45u);  // gate: f = 45 rows of hidden 30
    EXPECT_EQ(buffers[1].tensor->cols, 30u);
    EXPECT_EQ(buffers[3].tensor->rows, 30u);  // down: hidden rows of f columns
    EXPECT_EQ(buffers[3].tensor->cols, 45u);
    EXPECT_EQ(buffers[3].bytes, 2u * 30 * 45);
    EXPECT_EQ(buffers[1].data, s.blocks[1][1].get());
}

TEST(tp_shard, refuses_an_ffn_that_does_not_split) {
    EXPECT_THROW(ffn::tp::make_shard(full, seed, layers, 0, 4, 1), offload::configuration_error);
}

}  // namespace
