// The merged stats of several offloaders (offload/multi): sums and the slowest
// rank's times exactly as the ranks' own figures give them, absence carried
// through, the JSON round trip, and the side-by-side summary.
#include <offload/multi/merged_stats.hpp>
#include <offload/multi/merged_summary.hpp>

#include <algorithm>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offload/layer_offloader.hpp>
#include <offload/profile/none.hpp>

#include "support.hpp"

namespace {

using timed_offloader = offload::layer_offloader<offload::backend::host, offload::residency::first_n,
                                                 offload::prefetch::lookahead<2>, offload::profile::events>;
using untimed_offloader = offload::layer_offloader<offload::backend::host, offload::residency::first_n,
                                                   offload::prefetch::lookahead<2>, offload::profile::none>;

// A slow simulated link, so that every streamed layer's compute waits for its copy.
offload::backend::host_options slow_link() {
    offload::backend::host_options o;
    o.link_bytes_per_second = 50e6;
    return o;
}

// The stats of one rank: `layers` layers of which `resident` stay on the device, `passes` passes.
template <class Offloader>
offload::stats run_rank(std::size_t layers, std::size_t resident, std::size_t passes,
                        std::size_t buffer_bytes = 4096) {
    offload::testing::patterned_model w(layers, 3, buffer_bytes);
    Offloader off(w.get(), offload::presets::manual(resident), slow_link());
    for (std::size_t p = 0; p < passes; ++p)
        for (auto layer : off.pass()) (void)layer;
    return off.statistics();
}

// Three ranks of different sizes; the middle one streams the most bytes, so that it is the
// slowest and neither the first nor the last rank's figures pass for the largest. Layers of
// 3 x 64 KiB take about 4 ms a copy over the slow link: 16, 128 and 60 ms of copies, far
// apart beside the scheduling noise of a loaded machine.
std::vector<offload::stats> three_ranks() {
    std::size_t const bytes = std::size_t{64} << 10;
    return {run_rank<timed_offloader>(4, 2, 2, bytes), run_rank<timed_offloader>(6, 2, 8, bytes),
            run_rank<timed_offloader>(5, 0, 3, bytes)};
}

TEST(merged_stats, sums_counters_and_memory_over_the_ranks) {
    auto const ranks = three_ranks();
    auto const m = offload::multi::merge(ranks);
    EXPECT_EQ(m.ranks, 3u);
    offload::counters c;
    offload::memory_stats mem;
    for (auto const& s : ranks) {
        c.passes += s.counts.passes;
        c.aborted_passes += s.counts.aborted_passes;
        c.layer_computes += s.counts.layer_computes;
        c.layer_loads += s.counts.layer_loads;
        c.bytes_host_to_device += s.counts.bytes_host_to_device;
        c.bytes_device_to_host += s.counts.bytes_device_to_host;
        c.logical_bytes_host_to_device += s.counts.logical_bytes_host_to_device;
        c.replayed_passes += s.counts.replayed_passes;
        c.unused_prefetches += s.counts.unused_prefetches;
        mem.resident_bytes += s.memory.resident_bytes;
        mem.staging_bytes += s.memory.staging_bytes;
        mem.pinned_host_bytes += s.memory.pinned_host_bytes;
        mem.pageable_host_bytes += s.memory.pageable_host_bytes;
        mem.registered_host_bytes += s.memory.registered_host_bytes;
        mem.already_locked_host_bytes += s.memory.already_locked_host_bytes;
    }
    EXPECT_EQ(m.counts, c);
    EXPECT_EQ(m.memory, mem);
    EXPECT_EQ(m.counts.passes, 13u);  // 2 + 8 + 3
    EXPECT_EQ(m.counts.layer_loads, 2u * 2 + 8u * 4 + 3u * 5);
    EXPECT_EQ(m.per_rank, ranks);
}

TEST(merged_stats, every_counter_and_memory_field_is_summed) {
    // Fields an offloader of the tests leaves at 0 (pageable, registered and already-locked bytes
    // belong to other host-memory modes): hand-made stats give each field a value of its own.
    auto make = [](std::size_t k) {
        offload::stats s;
        s.counts = {1 * k, 2 * k, 3 * k, 4 * k, 5 * k, 6 * k, 7 * k, 8 * k, 9 * k};
        s.memory = {10 * k, 11 * k, 12 * k, 13 * k, 14 * k, 15 * k};
        return s;
    };
    auto const m = offload::multi::merge({make(1), make(100)});
    EXPECT_EQ(m.counts, make(101).counts);
    EXPECT_EQ(m.memory, make(101).memory);
}

TEST(merged_stats, an_aborted_pass_and_a_write_back_are_summed_too) {
    // aborted_passes and bytes_device_to_host are 0 in the other tests: a sum that forgot them would pass there.
    std::vector<float> w(1024, 1.0f), state(64, 0.0f);
    offload::model model;
    model.add_layer({{w.data(), w.size() * 4}});
    model.add_layer({{w.data(), w.size() * 4}, {state.data(), state.size() * 4, offload::access::read_write}});
    std::vector<offload::stats> ranks;
    for (int r = 0; r < 2; ++r) {
        timed_offloader off(model, offload::presets::manual(0));
        for (auto layer : off.pass()) (void)layer;
        for (auto layer : off.pass()) {
            (void)layer;
            break;
        }
        ranks.push_back(off.statistics());
    }
    auto const m = offload::multi::merge(ranks);
    EXPECT_EQ(m.counts.aborted_passes, 2u);
    EXPECT_EQ(m.counts.bytes_device_to_host, 2 * ranks[0].counts.bytes_device_to_host);
    EXPECT_GT(ranks[0].counts.bytes_device_to_host, 0u);
}

TEST(merged_stats, takes_the_slowest_ranks_time) {
    auto const ranks = three_ranks();
    auto const m = offload::multi::merge(ranks);
    ASSERT_TRUE(m.timing);
    auto const& t = *m.timing;
    std::size_t slowest = 0;
    for (std::size_t r = 0; r < ranks.size(); ++r) {
        ASSERT_TRUE(ranks[r].timing);
        if (ranks[r].timing->pass_wall.total_ms > ranks[slowest].timing->pass_wall.total_ms) slowest = r;
    }
    EXPECT_EQ(slowest, 1u);  // the ranks are built so
    EXPECT_EQ(t.slowest_rank, slowest);
    EXPECT_EQ(t.pass_wall, ranks[slowest].timing->pass_wall);
    double transfer = 0, compute = 0, stall = 0, rates = 0;
    for (auto const& s : ranks) {
        ASSERT_TRUE(s.timing->cpu_to_gpu_transfer_ms && s.timing->transfer_overhead_ms && s.timing->h2d_gb_per_s);
        transfer = std::max(transfer, *s.timing->cpu_to_gpu_transfer_ms);
        compute = std::max(compute, s.timing->pure_computation_ms);
        stall = std::max(stall, *s.timing->transfer_overhead_ms);
        rates += *s.timing->h2d_gb_per_s;
    }
    EXPECT_EQ(t.cpu_to_gpu_transfer_ms, transfer);
    EXPECT_EQ(t.pure_computation_ms, compute);
    EXPECT_EQ(t.transfer_overhead_ms, stall);
    EXPECT_EQ(t.h2d_gb_per_s, rates);
    ASSERT_EQ(t.overlap_efficiency.size(), ranks.size());
    for (std::size_t r = 0; r < ranks.size(); ++r) EXPECT_EQ(t.overlap_efficiency[r], ranks[r].timing->overlap_efficiency);
}

TEST(merged_stats, a_rank_without_timing_leaves_the_merged_timing_absent) {
    std::vector<offload::stats> ranks{run_rank<timed_offloader>(4, 1, 2), run_rank<untimed_offloader>(4, 1, 2)};
    ASSERT_TRUE(ranks[0].timing);
    ASSERT_FALSE(ranks[1].timing);
    auto const m = offload::multi::merge(ranks);
    EXPECT_FALSE(m.timing);
    EXPECT_EQ(m.counts.passes, 4u);  // counters are always there
    // The other order too: absence must not depend on which rank lacks it.
    EXPECT_FALSE(offload::multi::merge({ranks[1], ranks[0]}).timing);
}

TEST(merged_stats, a_figure_one_rank_lacks_is_absent_in_the_merge) {
    // Rank 1 keeps every layer resident: it copies nothing, so it has no copy
    // figures, no stall and (nothing to overlap) no overlap efficiency.
    std::vector<offload::stats> ranks{run_rank<timed_offloader>(4, 1, 2), run_rank<timed_offloader>(4, 4, 2)};
    auto const& lacking = *ranks[1].timing;
    ASSERT_FALSE(lacking.cpu_to_gpu_transfer_ms);
    ASSERT_FALSE(lacking.h2d_gb_per_s);
    ASSERT_FALSE(lacking.transfer_overhead_ms);
    ASSERT_FALSE(lacking.overlap_efficiency);
    ASSERT_TRUE(ranks[0].timing->cpu_to_gpu_transfer_ms && ranks[0].timing->h2d_gb_per_s &&
                ranks[0].timing->transfer_overhead_ms);
    for (auto const& order : {ranks, std::vector<offload::stats>{ranks[1], ranks[0]}}) {
        auto const m = offload::multi::merge(order);
        ASSERT_TRUE(m.timing);
        EXPECT_FALSE(m.timing->cpu_to_gpu_transfer_ms);
        EXPECT_FALSE(m.timing->h2d_gb_per_s);
        EXPECT_FALSE(m.timing->transfer_overhead_ms);
    }
    auto const m = offload::multi::merge(ranks);
    EXPECT_FALSE(m.timing->overlap_efficiency[1]);
    // In JSON: the keys are absent, and the rank's efficiency is null.
    auto const j = boost::json::value_from(m).as_object();
    auto const& t = j.at("timing").as_object();
    EXPECT_FALSE(t.contains("cpu_to_gpu_transfer_ms"));
    EXPECT_FALSE(t.contains("h2d_GBps"));
    EXPECT_FALSE(t.contains("transfer_overhead_ms"));
    EXPECT_TRUE(t.at("overlap_efficiency").as_array().at(1).is_null());
}

TEST(merged_stats, json_round_trips) {
    for (auto const& ranks : {three_ranks(), std::vector<offload::stats>{run_rank<timed_offloader>(4, 4, 1),
                                                                         run_rank<untimed_offloader>(3, 0, 2)}}) {
        auto const m = offload::multi::merge(ranks);
        auto const json = boost::json::value_from(m);
        EXPECT_EQ(boost::json::value_to<offload::multi::merged_stats>(json), m) << boost::json::serialize(json);
        auto const j = json.as_object();
        EXPECT_EQ(j.at("ranks").as_uint64(), ranks.size());
        EXPECT_EQ(j.at("counters").at("passes").as_uint64(), m.counts.passes);
        EXPECT_EQ(j.at("per_rank").as_array().size(), ranks.size());
        EXPECT_EQ(j.contains("timing"), m.timing.has_value());
    }
}

TEST(merged_stats, merging_nothing_is_refused) {
    EXPECT_THROW(offload::multi::merge({}), offload::configuration_error);
}

std::vector<std::string> lines_of(std::string const& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(merged_summary, shows_the_ranks_side_by_side_in_80_columns) {
    std::vector<offload::stats> ranks;
    for (std::size_t r = 0; r < 7; ++r) ranks.push_back(run_rank<timed_offloader>(3, r == 1 ? 3 : 0, 1 + r));
    auto const m = offload::multi::merge(ranks);
    std::ostringstream out;
    offload::multi::write_summary(out, m);
    auto const lines = lines_of(out.str());
    std::vector<std::string> headers;  // the column heads: a blank label
    for (auto const& line : lines) {
        EXPECT_LE(line.size(), 80u) << line;
        if (line.rfind(std::string(18, ' '), 0) == 0) headers.push_back(line);
    }
    ASSERT_EQ(headers.size(), 2u) << out.str();  // ranks 0-4, then 5, 6 and all
    EXPECT_NE(headers[0].find("rank 0"), std::string::npos) << headers[0];
    EXPECT_NE(headers[0].find("rank 4"), std::string::npos) << headers[0];
    EXPECT_NE(headers[1].find("rank 6         all"), std::string::npos) << headers[1];
    auto const text = out.str();
    // The all column's passes: the sum, 1 + 2 + ... + 7.
    auto const passes = std::find_if(lines.rbegin(), lines.rend(), [](auto const& l) { return l.find("passes") == 2; });
    ASSERT_NE(passes, lines.rend());
    EXPECT_EQ(passes->substr(passes->size() - 12), "          28");
    // Rank 1 keeps every layer resident, so its copy rate is "-".
    auto const rate = std::find_if(lines.begin(), lines.end(), [](auto const& l) { return l.find("GB/s") != std::string::npos; });
    ASSERT_NE(rate, lines.end());
    EXPECT_EQ(rate->substr(18 + 12, 12), "           -") << *rate;
}

TEST(merged_summary, says_why_there_is_no_merged_timing) {
    auto const m = offload::multi::merge({run_rank<timed_offloader>(3, 1, 1), run_rank<untimed_offloader>(3, 1, 1)});
    std::ostringstream out;
    offload::multi::write_summary(out, m);
    EXPECT_NE(out.str().find("no merged timing"), std::string::npos) << out.str();
    for (auto const& line : lines_of(out.str())) EXPECT_LE(line.size(), 80u) << line;
}

}  // namespace
