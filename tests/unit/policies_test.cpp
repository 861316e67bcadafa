// Residency policies on their own: which layers each one keeps, and why.
#include <offload/residency/budget.hpp>

#include <gtest/gtest.h>

#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

namespace {

using offload::residency::placement_request;

std::vector<std::size_t> indices(std::vector<bool> const& flags) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < flags.size(); ++i)
        if (flags[i]) out.push_back(i);
    return out;
}

TEST(residency, first_n_keeps_the_first_layers) {
    std::vector<std::size_t> bytes(10, 100);
    auto const cfg = offload::presets::extreme;
    auto const p = offload::residency::first_n::place({bytes, 2, cfg, 0});
    EXPECT_EQ(indices(p.resident), (std::vector<std::size_t>{0, 1, 2, 3}));
    EXPECT_TRUE(p.warnings.empty());
    EXPECT_NE(p.reason.find("first 4 layers"), std::string::npos);
}

TEST(residency, interleaved_spreads_resident_layers_evenly) {
    std::vector<std::size_t> bytes(12, 100);
    auto const p = offload::residency::interleaved::place({bytes, 2, offload::presets::extreme, 0});
    EXPECT_EQ(indices(p.resident), (std::vector<std::size_t>{2, 5, 8, 11}));
    auto const all = offload::residency::interleaved::place({bytes, 2, offload::presets::manual(12), 0});
    EXPECT_EQ(indices(all.resident).size(), 12u);
    auto const none = offload::residency::interleaved::place({bytes, 2, offload::presets::manual(0), 0});
    EXPECT_TRUE(indices(none.resident).empty());
}

TEST(residency, budget_pays_for_the_slots_first_then_takes_layers_in_order) {
    std::vector<std::size_t> bytes{100, 300, 100, 100, 100, 100, 100};  // 900 bytes: not all fit
    offload::config cfg;
    cfg.gpu_memory_budget = 2 * 300 + 250;  // two slots of the largest layer, then 250 bytes
    auto const p = offload::residency::budget::place({bytes, 2, cfg, 0});
    // Layer 1 (300) does not fit the 150 left after layer 0, but layer 2 does.
    EXPECT_EQ(indices(p.resident), (std::vector<std::size_t>{0, 2}));
    EXPECT_NE(p.reason.find("2 of 7 layers resident"), std::string::npos) << p.reason;
}

TEST(residency, budget_keeps_everything_when_everything_fits_and_needs_no_slots) {
    std::vector<std::size_t> bytes(4, 100);
    offload::config cfg;
    cfg.gpu_memory_budget = 400;
    auto const p = offload::residency::budget::place({bytes, 4, cfg, 0});
    EXPECT_EQ(indices(p.resident).size(), 4u);
}

TEST(residency, budget_defaults_to_free_memory_less_the_reserve) {
    std::vector<std::size_t> bytes(10, 100);
    offload::config cfg;
    cfg.reserve_bytes = 1000;
    auto const p = offload::residency::budget::place({bytes, 2, cfg, 1000 + 2 * 100 + 300});
    EXPECT_EQ(indices(p.resident).size(), 3u);
    EXPECT_NE(p.reason.find("free device memory less reserve_bytes"), std::string::npos);
}

TEST(prefetch, ring_sizes) {
    EXPECT_EQ(offload::prefetch::none::slots, 1u);
    EXPECT_FALSE(offload::prefetch::none::run_ahead);
    EXPECT_EQ(offload::prefetch::next_layer::slots, 2u);
    EXPECT_EQ(offload::prefetch::lookahead<8>::slots, 8u);
    EXPECT_TRUE(offload::prefetch::lookahead<8>::run_ahead);
}

}  // namespace
