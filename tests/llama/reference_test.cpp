// The host engine against transformers: the fixture written by
// tests/reference/make_llama.py --tiny (float32 logits of LlamaForCausalLM on
// the CPU, from the same 16-bit weights). Skipped while the fixture is absent.
#include "llama_host.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <offload/backend/host.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/first_n.hpp>

#include "llama_generate.hpp"
#include "llama_model.hpp"

namespace {

// fp32 against fp32, in different orders of summation: the largest difference
// over all positions and the vocabulary may be 1e-4 of the largest |logit|.
constexpr double relative_tolerance = 1e-4;

std::filesystem::path fixture(std::string const& name) {
    return std::filesystem::path(OFFLOAD_LLAMA_FIXTURES) / name;
}

template <class T>
std::vector<T> numbers(boost::json::value const& v) {
    std::vector<T> out;
    for (auto const& x : v.as_array()) out.push_back(boost::json::value_to<T>(x));
    return out;
}

class LlamaReference : public ::testing::TestWithParam<char const*> {};

TEST_P(LlamaReference, HostLogitsAndGreedyIdsMatchTransformers) {
    auto const dir = fixture(GetParam());
    if (!std::filesystem::exists(dir / "reference.json"))
        GTEST_SKIP() << dir.string() << " is absent: run tests/reference/make_llama.py --tiny tests/reference/fixtures "
                     << "where torch and transformers are installed (see docs/llama.md)";
    std::ifstream in(dir / "reference.json");
    std::stringstream text;
    text << in.rdbuf();
    auto const ref = boost::json::parse(text.str()).as_object();
    auto const prompt = numbers<std::int32_t>(ref.at("prompt"));
    auto const expected_ids = numbers<std::int32_t>(ref.at("generated"));
    auto const& rows = ref.at("logits").as_array();

    auto const m = llama::checkpoint_model::open(dir, {.quiet = true});
    llama::generation_request r;
    r.prompt = prompt;
    r.new_tokens = expected_ids.size();
    r.record_logits = true;
    // One layer resident, the rest streamed: the path a real run takes.
    offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::next_layer,
                             offload::profile::none>
        off(m.model(), offload::presets::manual(1));
    llama::host_engine engine(m.cfg, m.outside(), llama::positions_needed(r), m.layer_type);
    auto const got = llama::generate(off, engine, r);

    EXPECT_EQ(got.generated, expected_ids);
    std::size_t const vocab = m.cfg.vocab_size;
    ASSERT_EQ(rows.size(), prompt.size() + expected_ids.size() - 1);
    ASSERT_EQ(got.logits.size(), rows.size() * vocab);
    double largest = 0, worst = 0;
    std::size_t worst_position = 0;
    for (std::size_t p = 0; p < rows.size(); ++p) {
        auto const want = numbers<double>(rows[p]);
        ASSERT_EQ(want.size(), vocab);
        for (std::size_t v = 0; v < vocab; ++v) {
            largest = std::max(largest, std::abs(want[v]));
            double const diff = std::abs(got.logits[p * vocab + v] - want[v]);
            if (diff > worst) {
                worst = diff;
                worst_position = p;
            }
        }
    }
    EXPECT_LE(worst, relative_tolerance * largest)
        << "largest |logit| difference " << worst << " at position " << worst_position << ", largest |logit| "
        << largest;
    RecordProperty("max_abs_logit_difference", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Tiny, LlamaReference, ::testing::Values("llama-tiny-untied", "llama-tiny-tied"),
                         [](auto const& info) {
                             std::string n = info.param;
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

}  // namespace
