// What each profiler costs and measures: none records nothing, events times
// every step, and a timing figure is never a stand-in zero.
#include <offload/profile/events.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>
#include <thread>

#include <gtest/gtest.h>

#include <offload/layer_offloader.hpp>
#include <offload/profile/combine.hpp>
#include <offload/profile/none.hpp>

#include "support.hpp"

namespace {

using offload::testing::counting_host;

template <class Profiler>
using offloader = offload::layer_offloader<counting_host, offload::residency::first_n,
                                           offload::prefetch::lookahead<2>, Profiler>;

static_assert(std::is_empty_v<offload::profile::none>);
static_assert(std::is_empty_v<offload::profile::none::recorder<counting_host>>);

TEST(profile_none, creates_records_and_reads_no_timing_event) {
    offload::testing::patterned_model w(8);
    offloader<offload::profile::none> off(w.get(), offload::presets::manual(3));
    std::size_t const records_before = off.backend().records;
    constexpr std::size_t passes = 4;
    for (std::size_t p = 0; p < passes; ++p)
        for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();
    EXPECT_EQ(off.backend().timing_events_created, 0u);
    EXPECT_EQ(off.backend().elapsed_reads, 0u);
    // Only the scheduler's own ordering events: one "ready" and one "freed" per
    // streamed layer, and the "ready" of the next pass's first copies, issued already.
    EXPECT_EQ(off.backend().records - records_before, passes * 2 * s.streamed_layers.size() + off.staging_slots());
    EXPECT_EQ(s.profiler, "none");
    EXPECT_FALSE(s.timing.has_value());
    for (auto const& l : s.layers) {
        EXPECT_FALSE(l.compute_ms || l.transfer_ms || l.stall_ms || l.release_ms);
        EXPECT_EQ(l.samples, 0u);
    }
    // Counters stay.
    EXPECT_EQ(s.counts.passes, passes);
    EXPECT_EQ(s.counts.layer_loads, passes * 5);
}

TEST(profile_none, json_says_none_and_has_no_timing_field) {
    offload::testing::patterned_model w(4);
    offloader<offload::profile::none> off(w.get(), offload::presets::manual(1));
    for (auto layer : off.pass()) (void)layer;
    auto const j = boost::json::value_from(off.statistics()).as_object();
    EXPECT_EQ(j.at("profiler").as_string(), "none");
    for (char const* key : {"time_breakdown", "transfer_overhead_ms", "avg_layer_transfer_ms",
                            "theoretical_async_savings_ms", "achieved_async_savings_ms", "overlap_efficiency",
                            "h2d_GBps", "pass_wall_ms"})
        EXPECT_FALSE(j.contains(key)) << key;
    EXPECT_EQ(j.at("counters").at("passes").to_number<int>(), 1);
}

// One streamed layer writes back a state buffer, so that every timing field
// has something to measure.
struct stateful_model {
    explicit stateful_model(std::size_t layers) : weights(layers, std::vector<float>(4096, 1.0f)),
                                                  state(layers, std::vector<float>(256, 0.0f)) {
        for (std::size_t i = 0; i < layers; ++i)
            m.add_layer({{weights[i].data(), weights[i].size() * sizeof(float)},
                         {state[i].data(), state[i].size() * sizeof(float), offload::access::read_write}});
    }
    std::vector<std::vector<float>> weights, state;
    offload::model m;
};

TEST(profile_events, with_a_streamed_layer_no_timing_field_is_zero) {
    stateful_model sm(6);
    offload::backend::host_options slow;
    slow.link_bytes_per_second = 500e6;
    offloader<offload::profile::events> off(sm.m, offload::presets::manual(2), slow);
    for (int p = 0; p < 3; ++p)
        for ([[maybe_unused]] auto layer : off.pass()) std::this_thread::sleep_for(std::chrono::microseconds(50));
    auto const s = off.statistics();
    ASSERT_TRUE(s.timing);
    auto const& t = *s.timing;
    ASSERT_TRUE(t.cpu_to_gpu_transfer_ms && t.gpu_to_cpu_release_ms && t.transfer_overhead_ms &&
                t.avg_layer_transfer_ms && t.h2d_gb_per_s);
    EXPECT_GT(*t.cpu_to_gpu_transfer_ms, 0);
    EXPECT_GT(*t.gpu_to_cpu_release_ms, 0);
    EXPECT_GT(t.pure_computation_ms, 0);
    EXPECT_GT(*t.transfer_overhead_ms, 0);
    EXPECT_GT(*t.avg_layer_transfer_ms, 0);
    EXPECT_GT(t.theoretical_async_savings_ms, 0);
    EXPECT_GT(*t.h2d_gb_per_s, 0);
    EXPECT_EQ(t.pass_wall.count, 3u);
    EXPECT_GT(t.pass_wall.min_ms, 0);
    EXPECT_LE(t.pass_wall.min_ms, t.pass_wall.median_ms);
    EXPECT_LE(t.pass_wall.median_ms, t.pass_wall.max_ms);
    for (auto const& l : s.layers) {
        EXPECT_EQ(l.samples, 3u);
        ASSERT_TRUE(l.compute_ms);
        EXPECT_GT(*l.compute_ms, 0);
        EXPECT_EQ(l.transfer_ms.has_value(), !l.resident);
        EXPECT_EQ(l.stall_ms.has_value(), !l.resident);
        EXPECT_EQ(l.release_ms.has_value(), !l.resident);
    }
}

TEST(profile_events, without_write_back_the_release_time_is_absent_not_zero) {
    offload::testing::patterned_model w(5);
    offloader<offload::profile::events> off(w.get(), offload::presets::manual(2));
    for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();
    ASSERT_TRUE(s.timing);
    EXPECT_FALSE(s.timing->gpu_to_cpu_release_ms);
    EXPECT_EQ(s.counts.bytes_device_to_host, 0u);
}

TEST(profile_events, an_all_resident_run_has_no_transfer_figures) {
    offload::testing::patterned_model w(3);
    offloader<offload::profile::events> off(w.get(), offload::presets::manual(3));
    for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();
    ASSERT_TRUE(s.timing);
    EXPECT_FALSE(s.timing->cpu_to_gpu_transfer_ms);  // nothing was copied: no sample, no figure
    EXPECT_FALSE(s.timing->avg_layer_transfer_ms);
    EXPECT_FALSE(s.timing->transfer_overhead_ms);
    EXPECT_FALSE(s.timing->h2d_gb_per_s);
    EXPECT_FALSE(s.timing->overlap_efficiency);
    EXPECT_EQ(off.staging_slots(), 0u);
}

TEST(profile_events, reset_forgets_counters_and_timings) {
    offload::testing::patterned_model w(5);
    offloader<offload::profile::events> off(w.get(), offload::presets::manual(2));
    for (int p = 0; p < 2; ++p)
        for (auto layer : off.pass()) (void)layer;
    off.reset_statistics();
    for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();
    EXPECT_EQ(s.counts.passes, 1u);
    EXPECT_EQ(s.timing->pass_wall.count, 1u);
    for (auto const& l : s.layers) EXPECT_EQ(l.samples, 1u);
}

}  // namespace

namespace {

// A profiler that writes down every hook it receives, so that a test can
// check that a combined profiler forwards each one to each recorder.
template <int Id>
struct recording {
    using policy_kind = offload::policy_kind::profiler;
    static constexpr char const* name = Id == 0 ? "first" : "second";
    static inline std::vector<std::string> log;
    template <class Backend>
    struct recorder {
        static constexpr bool measures_time = false;
        recorder(Backend&, std::size_t) {}
        template <class S> void pass_begin(S) { log.push_back("pass_begin"); }
        template <class S> void copy_begin(std::size_t i, S) { log.push_back("copy_begin " + std::to_string(i)); }
        template <class S> void copy_end(std::size_t i, std::size_t b, S) { log.push_back("copy_end " + std::to_string(i) + " " + std::to_string(b)); }
        template <class S> void wait_begin(std::size_t i, S) { log.push_back("wait_begin " + std::to_string(i)); }
        template <class S> void decode_begin(std::size_t i, S) { log.push_back("decode_begin " + std::to_string(i)); }
        template <class S> void decode_end(std::size_t i, S) { log.push_back("decode_end " + std::to_string(i)); }
        template <class S> void compute_begin(std::size_t i, S) { log.push_back("compute_begin " + std::to_string(i)); }
        template <class S> void compute_end(std::size_t i, S) { log.push_back("compute_end " + std::to_string(i)); }
        template <class S> void release_begin(std::size_t i, S) { log.push_back("release_begin " + std::to_string(i)); }
        template <class S> void release_end(std::size_t i, std::size_t b, S) { log.push_back("release_end " + std::to_string(i) + " " + std::to_string(b)); }
        template <class S> void pass_end(S) { log.push_back("pass_end"); }
        void pass_abort() noexcept { log.push_back("pass_abort"); }
        void fill(offload::stats&) { log.push_back("fill"); }
        void reset() { log.push_back("reset"); }
    };
};

TEST(profile_combine, forwards_every_hook_to_every_recorder_in_order) {
    using both = offload::profile::combine<recording<0>, recording<1>>;
    static_assert(std::string_view(both::name) == "first+second");
    recording<0>::log.clear();
    recording<1>::log.clear();
    stateful_model sm(4);  // write-back layers: every hook has something to say
    {
        offloader<both> off(sm.m, offload::presets::manual(1));
        for (int p = 0; p < 2; ++p)
            for (auto layer : off.pass()) (void)layer;
        for (auto layer : off.pass())
            if (layer.index() == 2) break;  // abandoned
        (void)off.statistics();
        off.reset_statistics();
    }
    auto const& log = recording<0>::log;
    EXPECT_EQ(recording<1>::log, log);
    auto count = [&](std::string const& prefix) {
        return std::count_if(log.begin(), log.end(), [&](auto const& e) { return e.rfind(prefix, 0) == 0; });
    };
    EXPECT_EQ(count("pass_begin"), 3);
    EXPECT_EQ(count("pass_end"), 2);
    EXPECT_EQ(count("pass_abort"), 1);
    EXPECT_EQ(count("fill"), 1);
    EXPECT_EQ(count("reset"), 1);
    EXPECT_EQ(count("compute_begin"), 2 * 4 + 3);
    EXPECT_EQ(count("compute_end"), 2 * 4 + 2);
    EXPECT_EQ(count("wait_begin"), 2 * 3 + 2);
    EXPECT_EQ(count("release_begin"), 2 * 3 + 1);
    EXPECT_EQ(count("release_end"), 2 * 3 + 1);
    EXPECT_GE(count("copy_begin"), 2 * 3);
    EXPECT_EQ(count("copy_begin"), count("copy_end"));
    EXPECT_NE(std::find(log.begin(), log.end(), "release_end 3 1024"), log.end());  // the state buffer's bytes
}

TEST(profile_combine, measures_time_when_any_of_its_profilers_does) {
    using timed = offload::profile::combine<recording<0>, offload::profile::events>;
    offload::testing::patterned_model w(4);
    offloader<timed> off(w.get(), offload::presets::manual(1));
    for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();
    EXPECT_TRUE(s.profiler_measures_time);
    ASSERT_TRUE(s.timing);
    EXPECT_EQ(s.timing->pass_wall.count, 1u);
}

}  // namespace
