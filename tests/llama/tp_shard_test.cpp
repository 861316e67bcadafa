// offload-llama's tensor-parallel shards (examples/llama/llama_tp_shard.hpp)
// on a tiny checkpoint (4 heads, 2 kv heads, intermediate 48): the shards of
// every layer tensor put back together give the checkpoint's tensor, each
// split the way the rank's engine reads it, and a model that does not split
// is refused naming what does not divide.
#include "llama_tp_shard.hpp"

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "llama_model.hpp"
#include "tiny_model.hpp"

namespace {

namespace st = offload::testing::safetensors;

TEST(llama_tp_shard, rank_config_divides_heads_kv_heads_and_the_mlp) {
    st::scratch_dir dir;
    llama::testing::write_tiny_model(dir.path(), {});
    auto const m = llama::checkpoint_model::open(dir.path(), {.quiet = true});
    auto const c = llama::tp::rank_config(m.cfg, 2);
    EXPECT_EQ(c.num_attention_heads, 2u);
    EXPECT_EQ(c.num_key_value_heads, 1u);
    EXPECT_EQ(c.intermediate_size, 24u);
    EXPECT_EQ(c.head_dim, m.cfg.head_dim);
    EXPECT_EQ(c.hidden_size, m.cfg.hidden_size);
    auto refused = [&](int n) {
        try {
            llama::tp::rank_config(m.cfg, n);
        } catch (llama::config_error const& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_EQ(refused(3), "num_attention_heads 4 does not split over 3 GPUs");
    EXPECT_EQ(refused(4), "num_key_value_heads 2 does not split over 4 GPUs");
    EXPECT_THROW(llama::tp::make_shard(m, 0, 4), llama::config_error);
}

TEST(llama_tp_shard, shards_put_back_together_give_the_checkpoint) {
    st::scratch_dir dir;
    llama::testing::write_tiny_model(dir.path(), {});
    auto const m = llama::checkpoint_model::open(dir.path(), {.quiet = true});
    constexpr int ranks = 2;
    std::vector<llama::tp::shard> shards;
    for (int r = 0; r < ranks; ++r) shards.push_back(llama::tp::make_shard(m, r, ranks));

    for (std::size_t l = 0; l < m.layered.layers.size(); ++l)
        for (std::size_t b = 0; b < llama::layer_buffer_count; ++b) {
            auto const& t = m.layered.layers[l][b];
            SCOPED_TRACE(t.name);
            std::vector<std::byte> whole(t.bytes);
            std::size_t const part = shards[0].bytes[b];
            bool const norm = t.shape.size() == 1;
            bool const by_columns = b == llama::o_proj || b == llama::down_proj;
            for (int r = 0; r < ranks; ++r) {
                auto const* p = static_cast<std::byte const*>(shards[r].blocks[l][b].get());
                if (norm) {
                    ASSERT_EQ(part, t.bytes);
                    EXPECT_EQ(std::memcmp(p, t.data, t.bytes), 0) << "rank " << r << " lacks the whole norm";
                    continue;
                }
                ASSERT_EQ(part * ranks, t.bytes);
                if (!by_columns) {
                    std::memcpy(whole.data() + r * part, p, part);  // output rows r part ..
                    continue;
                }
                std::size_t const rows = t.shape[0], row_bytes = t.bytes / rows, share = row_bytes / ranks;
                for (std::size_t i = 0; i < rows; ++i)  // input columns of every row
                    std::memcpy(whole.data() + i * row_bytes + r * share, p + i * share, share);
            }
            if (!norm) {
                EXPECT_EQ(std::memcmp(whole.data(), t.data, t.bytes), 0);
            }
        }

    // The model each rank's offloader streams: the rank's shapes, norms exact under a codec.
    auto const model = llama::tp::describe(shards[1], m.layer_type, 1);
    ASSERT_EQ(model.size(), m.cfg.num_hidden_layers);
    auto const& o = model.layer(2).buffers()[llama::o_proj];
    ASSERT_TRUE(o.tensor.has_value());
    EXPECT_EQ(o.tensor->name, "model.layers.2.rank1.self_attn.o_proj.weight");
    EXPECT_EQ(o.tensor->rows, m.cfg.hidden_size);
    EXPECT_EQ(o.tensor->cols, m.cfg.q_size() / 2);
    EXPECT_EQ(o.data, shards[1].blocks[2][llama::o_proj].get());
    EXPECT_FALSE(model.layer(0).buffers()[llama::input_layernorm].tensor->compressible);
}

}  // namespace
