// A field with no sample behind it is absent in every state of the offloader:
// before any pass, after reset_statistics(), after only abandoned passes, and
// with each profiler. docs/stats.md has the table these tests hold.
#include <offload/stats.hpp>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offload/layer_offloader.hpp>
#include <offload/profile/combine.hpp>
#include <offload/profile/none.hpp>

#include "support.hpp"

namespace {

template <class Profiler>
using offloader = offload::layer_offloader<offload::backend::host, offload::residency::first_n,
                                           offload::prefetch::lookahead<2>, Profiler>;

// Every key a timing profiler may write, at the top level or in time_breakdown.
std::vector<std::string> const timing_keys = {"time_breakdown",          "transfer_overhead_ms",
                                              "avg_layer_transfer_ms",   "theoretical_async_savings_ms",
                                              "achieved_async_savings_ms", "overlap_efficiency",
                                              "h2d_GBps",                "pass_wall_ms"};

std::vector<std::string> timing_keys_in(offload::stats const& s) {
    auto const j = boost::json::value_from(s).as_object();
    std::vector<std::string> found;
    for (auto const& k : timing_keys)
        if (j.contains(k)) found.push_back(k);
    for (auto const& l : j.at("layers").as_array())
        for (char const* k : {"compute_ms", "transfer_ms", "stall_ms", "release_ms"})
            if (l.as_object().contains(k)) found.push_back(std::string("layers.") + k);
    return found;
}

void run_passes(auto& off, int n) {
    for (int p = 0; p < n; ++p)
        for (auto layer : off.pass()) (void)layer;
}
void abandon_a_pass(auto& off) {
    for (auto layer : off.pass())
        if (layer.index() == 2) break;
}

TEST(states, events_before_any_pass_has_no_timing_field) {
    offload::testing::patterned_model w(5);
    offloader<offload::profile::events> off(w.get(), offload::presets::manual(1));
    auto const s = off.statistics();
    EXPECT_TRUE(s.profiler_measures_time);
    EXPECT_FALSE(s.timing);
    EXPECT_EQ(timing_keys_in(s), std::vector<std::string>{});
}

TEST(states, events_after_reset_has_no_timing_field_until_the_next_pass) {
    offload::testing::patterned_model w(5);
    offloader<offload::profile::events> off(w.get(), offload::presets::manual(1));
    run_passes(off, 2);
    ASSERT_TRUE(off.statistics().timing);
    off.reset_statistics();
    EXPECT_EQ(timing_keys_in(off.statistics()), std::vector<std::string>{});
    run_passes(off, 1);
    auto const s = off.statistics();
    ASSERT_TRUE(s.timing);
    EXPECT_EQ(s.timing->pass_wall.count, 1u);
}

TEST(states, events_after_only_abandoned_passes_has_no_timing_field) {
    offload::testing::patterned_model w(5);
    offloader<offload::profile::events> off(w.get(), offload::presets::manual(1));
    abandon_a_pass(off);
    abandon_a_pass(off);
    auto const s = off.statistics();
    EXPECT_EQ(s.counts.aborted_passes, 2u);
    EXPECT_EQ(timing_keys_in(s), std::vector<std::string>{});
}

TEST(states, events_after_passes_has_every_field_that_was_measured) {
    offload::testing::patterned_model w(5);
    offloader<offload::profile::events> off(w.get(), offload::presets::manual(1));
    abandon_a_pass(off);
    run_passes(off, 1);
    auto const keys = timing_keys_in(off.statistics());
    for (auto const& k : timing_keys)
        if (k != "overlap_efficiency")  // present only when overlap could save enough to judge
            EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
}

TEST(states, profilers_that_measure_no_time_never_write_a_timing_field) {
    offload::testing::patterned_model w(5);
    offloader<offload::profile::none> off(w.get(), offload::presets::manual(1));
    EXPECT_EQ(timing_keys_in(off.statistics()), std::vector<std::string>{});
    run_passes(off, 2);
    abandon_a_pass(off);
    auto const s = off.statistics();
    EXPECT_FALSE(s.profiler_measures_time);
    EXPECT_EQ(timing_keys_in(s), std::vector<std::string>{});
    off.reset_statistics();
    EXPECT_EQ(timing_keys_in(off.statistics()), std::vector<std::string>{});
}

// With every layer resident nothing is copied: the copy figures have no
// sample and are absent, while compute and the pass wall are measured.
TEST(states, an_all_resident_stack_has_compute_and_wall_but_no_copy_figure) {
    offload::testing::patterned_model w(3);
    offloader<offload::profile::events> off(w.get(), offload::presets::manual(3));
    run_passes(off, 2);
    auto const j = boost::json::value_from(off.statistics()).as_object();
    ASSERT_TRUE(j.contains("time_breakdown"));
    auto const& breakdown = j.at("time_breakdown").as_object();
    EXPECT_TRUE(breakdown.contains("pure_computation_ms"));
    EXPECT_FALSE(breakdown.contains("cpu_to_gpu_transfer_ms"));
    for (char const* k : {"avg_layer_transfer_ms", "transfer_overhead_ms", "h2d_GBps", "overlap_efficiency"})
        EXPECT_FALSE(j.contains(k)) << k;
    EXPECT_EQ(j.at("pass_wall_ms").at("count").to_number<int>(), 2);
}

}  // namespace
