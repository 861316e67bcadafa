#include "llama_host.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offload/backend/host.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/budget.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

#include "llama_generate.hpp"
#include "llama_model.hpp"
#include "tiny_model.hpp"

namespace {

namespace st = offload::testing::safetensors;
using llama::testing::tiny_options;
using llama::testing::write_tiny_model;

std::vector<std::int32_t> const prompt = {3, 17, 42, 5, 63, 0, 9};

llama::generation_request greedy(std::size_t new_tokens) {
    llama::generation_request r;
    r.prompt = prompt;
    r.new_tokens = new_tokens;
    r.record_logits = true;
    return r;
}

struct run_result {
    llama::generation_result generation;
    std::size_t layer_loads = 0;  // streamed layer copies: 0 when every layer is resident
};

template <class Residency, class Prefetch>
run_result run(llama::checkpoint_model const& m, offload::config cfg, llama::generation_request const& r) {
    offload::layer_offloader<offload::backend::host, Residency, Prefetch, offload::profile::none> off(m.model(), cfg);
    llama::host_engine engine(m.cfg, m.outside(), llama::positions_needed(r), m.layer_type);
    run_result out{llama::generate(off, engine, r), 0};
    out.layer_loads = off.statistics().counts.layer_loads;
    return out;
}

llama::checkpoint_model open_quietly(std::filesystem::path const& dir) {
    return llama::checkpoint_model::open(dir, {.quiet = true});
}

// Where a layer's weights come from (resident, or streamed through any ring)
// must not change a single bit of the logits.
TEST(LlamaHostEngine, EveryResidencyAndPrefetchPolicyGivesTheSameLogits) {
    st::scratch_dir dir;
    write_tiny_model(dir.path(), {});
    auto const m = open_quietly(dir.path());
    auto const r = greedy(6);
    using namespace offload;
    auto const all_resident = run<residency::first_n, prefetch::none>(m, presets::manual(3), r);
    ASSERT_EQ(all_resident.layer_loads, 0u);
    ASSERT_EQ(all_resident.generation.generated.size(), 6u);
    ASSERT_EQ(all_resident.generation.logits.size(), (prompt.size() + 5) * 64);

    config budget;
    budget.gpu_memory_budget = 2 * m.model().layer(0).footprint() + 1;  // one resident layer and a slot
    std::vector<std::pair<std::string, run_result>> const runs = {
        {"first_n 0, none", run<residency::first_n, prefetch::none>(m, presets::manual(0), r)},
        {"first_n 0, next_layer", run<residency::first_n, prefetch::next_layer>(m, presets::manual(0), r)},
        {"first_n 1, lookahead<4>", run<residency::first_n, prefetch::lookahead<4>>(m, presets::manual(1), r)},
        {"interleaved 1, none", run<residency::interleaved, prefetch::none>(m, presets::manual(1), r)},
        {"interleaved 1, next_layer", run<residency::interleaved, prefetch::next_layer>(m, presets::manual(1), r)},
        {"budget, none", run<residency::budget, prefetch::none>(m, budget, r)},
        {"budget, next_layer", run<residency::budget, prefetch::next_layer>(m, budget, r)},
    };
    for (auto const& [name, result] : runs) {
        EXPECT_GT(result.layer_loads, 0u) << name << ": nothing was streamed";
        EXPECT_EQ(result.generation.generated, all_resident.generation.generated) << name;
        EXPECT_TRUE(result.generation.logits == all_resident.generation.logits) << name << ": logits differ";
    }
}

// Decoding with the KV cache, one token a pass, computes what one pass over the
// whole sequence computes: every token's math is independent of the step's size.
TEST(LlamaHostEngine, DecodeStepsMatchOnePassOverTheWholeSequence) {
    st::scratch_dir dir;
    write_tiny_model(dir.path(), {});
    auto const m = open_quietly(dir.path());
    auto const stepwise = run<offload::residency::first_n, offload::prefetch::next_layer>(m, offload::presets::manual(1),
                                                                                        greedy(5));
    llama::generation_request whole;
    whole.prompt = prompt;
    whole.prompt.insert(whole.prompt.end(), stepwise.generation.generated.begin(),
                        stepwise.generation.generated.end() - 1);
    whole.record_logits = true;
    auto const once = run<offload::residency::first_n, offload::prefetch::next_layer>(m, offload::presets::manual(1), whole);
    ASSERT_EQ(once.generation.logits.size(), stepwise.generation.logits.size());
    EXPECT_TRUE(once.generation.logits == stepwise.generation.logits);
    EXPECT_EQ(once.generation.generated.front(), stepwise.generation.generated.back());
}

// Teacher forcing feeds the given ids: the logits are those of one pass over
// prompt + ids, whatever the argmax was.
TEST(LlamaHostEngine, TeacherForcingFeedsTheGivenIds) {
    st::scratch_dir dir;
    write_tiny_model(dir.path(), {});
    auto const m = open_quietly(dir.path());
    llama::generation_request forced = greedy(1);
    forced.teacher_force = {1, 2, 3};
    auto const stepwise = run<offload::residency::first_n, offload::prefetch::none>(m, offload::presets::manual(3), forced);
    EXPECT_EQ(stepwise.generation.generated.size(), 4u);
    EXPECT_EQ(stepwise.generation.decode_steps, 3u);

    llama::generation_request whole = greedy(1);
    whole.prompt.insert(whole.prompt.end(), {1, 2, 3});
    auto const once = run<offload::residency::first_n, offload::prefetch::none>(m, offload::presets::manual(3), whole);
    EXPECT_TRUE(once.generation.logits == stepwise.generation.logits);
}

// The same values stored as bf16, fp16 and fp32 are the same model.
TEST(LlamaHostEngine, StoredTypesAreReadExactly) {
    std::vector<std::vector<float>> logits;
    for (char const* type : {"BF16", "F16", "F32"}) {
        st::scratch_dir dir;
        write_tiny_model(dir.path(), {.dtype = type});
        auto const m = open_quietly(dir.path());
        logits.push_back(run<offload::residency::first_n, offload::prefetch::none>(m, offload::presets::manual(0),
                                                                                   greedy(3))
                             .generation.logits);
    }
    EXPECT_TRUE(logits[0] == logits[1]) << "bf16 and fp16 differ";
    EXPECT_TRUE(logits[0] == logits[2]) << "bf16 and fp32 differ";
}

// tie_word_embeddings with no lm_head.weight uses embed_tokens: the same model
// as an untied one whose lm_head is a copy of the embeddings.
TEST(LlamaHostEngine, TiedLmHeadIsTheEmbeddings) {
    st::scratch_dir tied_dir, copied_dir, untied_dir;
    write_tiny_model(tied_dir.path(), {.tied = true});
    write_tiny_model(copied_dir.path(), {.lm_head_copies_embeddings = true});
    write_tiny_model(untied_dir.path(), {});
    auto logits = [](std::filesystem::path const& p) {
        auto const m = open_quietly(p);
        return run<offload::residency::first_n, offload::prefetch::none>(m, offload::presets::manual(0), greedy(2))
            .generation.logits;
    };
    auto const tied = logits(tied_dir.path());
    EXPECT_TRUE(tied == logits(copied_dir.path()));
    EXPECT_FALSE(tied == logits(untied_dir.path()));
}

TEST(LlamaHostEngine, RefusesTokensOutsideTheVocabularyAndPositionsBeyondItsCache) {
    st::scratch_dir dir;
    write_tiny_model(dir.path(), {});
    auto const m = open_quietly(dir.path());
    llama::host_engine engine(m.cfg, m.outside(), 4, m.layer_type);
    std::int32_t const outside[] = {64};
    EXPECT_THROW(engine.begin(outside, 0), offload::configuration_error);
    std::int32_t const five[] = {1, 2, 3, 4, 5};
    EXPECT_THROW(engine.begin(five, 0), offload::configuration_error);
    EXPECT_THROW(engine.next_token(), offload::configuration_error);
}

TEST(LlamaHostEngine, AnUntiedModelWithoutLmHeadIsRefusedByName) {
    st::scratch_dir dir;
    write_tiny_model(dir.path(), {.tied = true});
    auto m = open_quietly(dir.path());
    m.cfg.tie_word_embeddings = false;
    try {
        llama::host_engine engine(m.cfg, m.outside(), 4, m.layer_type);
        FAIL() << "no error";
    } catch (offload::configuration_error const& e) {
        EXPECT_NE(std::string(e.what()).find("lm_head.weight"), std::string::npos) << e.what();
    }
}

}  // namespace
