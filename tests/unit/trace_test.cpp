// The Perfetto trace: valid JSON, spans that nest on each track, and counts
// and durations that agree with the stats.
#include <offload/profile/trace.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include <offload/layer_offloader.hpp>

#include "support.hpp"

namespace {

using offloader = offload::layer_offloader<offload::backend::host, offload::residency::first_n,
                                           offload::prefetch::lookahead<2>, offload::profile::events>;

std::filesystem::path temp_trace(char const* name) {
    return std::filesystem::temp_directory_path() / (std::string("offload_") + name + ".json");
}

boost::json::object read_json(std::filesystem::path const& p) {
    std::ifstream in(p);
    std::stringstream text;
    text << in.rdbuf();
    return boost::json::parse(text.str()).as_object();
}

using timed_offloader = offload::layer_offloader<offload::testing::copy_timing_host, offload::residency::first_n,
                                                 offload::prefetch::lookahead<2>, offload::profile::events>;

struct span_totals {
    std::map<std::int64_t, std::vector<std::pair<double, double>>> tracks;
    std::map<std::string, double> ms;
    std::map<std::string, std::size_t> count;
    std::set<std::size_t> passes;
    std::size_t copied_bytes = 0;
};

span_totals read_spans(std::filesystem::path const& path) {
    span_totals out;
    auto const trace = read_json(path);
    for (auto const& v : trace.at("traceEvents").as_array()) {
        auto const& e = v.as_object();
        if (e.at("ph").as_string() != "X") continue;
        std::string const name(e.at("name").as_string());
        double const ts = e.at("ts").to_number<double>(), dur = e.at("dur").to_number<double>();
        EXPECT_GE(dur, 0) << name;
        out.tracks[e.at("tid").to_number<std::int64_t>()].emplace_back(ts, ts + dur);
        std::string const kind = name.substr(0, name.find(" layer"));
        out.ms[kind] += dur / 1e3;
        ++out.count[kind];
        out.passes.insert(e.at("args").at("pass").to_number<std::size_t>());
        if (kind == "copy") out.copied_bytes += e.at("args").at("bytes").to_number<std::size_t>();
    }
    return out;
}

TEST(trace, spans_nest_per_track_and_agree_with_the_tests_own_clocks) {
    constexpr std::size_t passes = 3;
    constexpr auto compute = std::chrono::milliseconds(2);
    std::vector<std::uint32_t> weights(256 * 1024, 1), state(1024 * 1024, 0);
    offload::model m;
    for (int i = 0; i < 5; ++i) m.add_layer({{weights.data(), weights.size() * 4}});
    m.add_layer({{weights.data(), weights.size() * 4}, {state.data(), state.size() * 4, offload::access::read_write}});
    auto const path = temp_trace("spans");
    offload::stats s;
    double clocked_compute = 0, clocked_copy = 0, clocked_copy_back = 0;
    {
        offload::backend::host_options slow;
        slow.link_bytes_per_second = 1e9;  // 1 MiB in about 1 ms
        timed_offloader off(m, offload::presets::manual(2), slow);
        off.synchronize();
        off.backend().copy_ms.clear();  // placing the resident layers is not part of a pass
        off.trace_to(path);
        for (std::size_t p = 0; p < passes; ++p)
            for ([[maybe_unused]] auto layer : off.pass()) {
                auto const t0 = std::chrono::steady_clock::now();
                std::this_thread::sleep_for(compute);
                clocked_compute += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            }
        s = off.statistics();
        clocked_copy = off.backend().total_copy_ms();
        clocked_copy_back = off.backend().total_copy_back_ms();
    }  // the destructor writes the trace
    auto const spans = read_spans(path);
    // On one track, any two spans are either disjoint or one holds the other
    // (to a nanosecond: an end is read back as ts + dur, which rounds).
    constexpr double ns = 1e-3;
    for (auto [tid, list] : spans.tracks) {
        std::sort(list.begin(), list.end(), [](auto a, auto b) { return a.first < b.first || (a.first == b.first && a.second > b.second); });
        std::vector<double> open_ends;
        for (auto [begin, end] : list) {
            while (!open_ends.empty() && open_ends.back() <= begin + ns) open_ends.pop_back();
            if (!open_ends.empty()) {
                EXPECT_LE(end, open_ends.back() + ns) << "track " << tid << " span at " << begin;
            }
            open_ends.push_back(end);
        }
    }
    EXPECT_EQ(spans.count.at("copy"), s.counts.layer_loads);
    EXPECT_EQ(spans.copied_bytes, s.counts.bytes_host_to_device);
    EXPECT_EQ(spans.count.at("compute"), s.counts.layer_computes);
    EXPECT_EQ(spans.count.at("wait"), passes * s.streamed_layers.size());
    EXPECT_EQ(spans.count.at("write back"), passes);
    // Durations against clocks the test keeps itself: the compute it slept,
    // and every copy timed on its stream by the backend wrapper. A span's
    // events sit just outside the wrapper's clock readings, a few tasks apart
    // on the stream: 10%, plus 0.5 ms a span for the sanitizer builds on two
    // loaded cores (ASan measured 0.2 ms beyond the 10% a write-back span,
    // with the next pass's copies running beside it).
    auto near = [&](char const* kind, double clocked) {
        EXPECT_NEAR(spans.ms.at(kind), clocked, 0.10 * clocked + 0.5 * static_cast<double>(spans.count.at(kind))) << kind;
    };
    near("compute", clocked_compute);
    near("copy", clocked_copy);
    near("write back", clocked_copy_back);
    std::filesystem::remove(path);
}

// A trace started after passes have run covers the passes from then on, and
// every pass is counted once in the stats.
TEST(trace, can_start_after_passes_have_run) {
    offload::testing::patterned_model w(6);
    auto const path = temp_trace("late");
    offload::backend::host_options async;
    async.compute = decltype(async.compute)::worker_thread;  // passes still in flight when the trace starts
    {
        offloader off(w.get(), offload::presets::manual(2), async);
        auto run = [&] {
            for (auto layer : off.pass())
                offload::backend::host::enqueue(layer.stream(), [] { std::this_thread::sleep_for(std::chrono::microseconds(200)); });
        };
        for (int p = 0; p < 3; ++p) run();
        for (auto layer : off.pass())  // started in the middle of pass 3: traced from pass 4 on
            if (layer.index() == 2) off.trace_to(path);
        for (int p = 0; p < 2; ++p) run();
        auto const s = off.statistics();
        EXPECT_EQ(s.counts.passes, 6u);
        ASSERT_TRUE(s.timing);
        EXPECT_EQ(s.timing->pass_wall.count, 6u);
    }
    auto const spans = read_spans(path);
    EXPECT_EQ(spans.passes, (std::set<std::size_t>{4, 5}));
    EXPECT_EQ(spans.count.at("compute"), 2u * 6u);
    std::filesystem::remove(path);
}

// A backend whose next elapsed-time read fails, as a CUDA event read does on
// an event that was never completed.
struct failing_elapsed_host : offload::backend::host {
    using offload::backend::host::host;
    double elapsed_ms(event_type a, event_type b) {
        if (fail_next) {
            fail_next = false;
            throw offload::backend_error(__FILE__, __LINE__, "test_failure", "an injected failure", "reading a time");
        }
        return host::elapsed_ms(a, b);
    }
    bool fail_next = false;
};

TEST(trace, a_record_that_fails_to_resolve_is_counted_once_and_later_passes_go_on) {
    offload::testing::patterned_model w(5);
    offload::layer_offloader<failing_elapsed_host, offload::residency::first_n, offload::prefetch::lookahead<2>,
                             offload::profile::events>
        off(w.get(), offload::presets::manual(1));
    for (auto layer : off.pass()) (void)layer;
    off.backend().fail_next = true;
    EXPECT_THROW(off.statistics(), offload::backend_error);
    for (int p = 0; p < 3; ++p)
        for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();
    EXPECT_EQ(s.counts.passes, 4u);
    ASSERT_TRUE(s.timing);
    EXPECT_EQ(s.timing->pass_wall.count, 3u);  // the failed record is dropped, not counted twice
}

TEST(trace, a_path_that_cannot_be_written_fails_before_the_run) {
    offload::testing::patterned_model w(3);
    offloader off(w.get(), offload::presets::manual(1));
    try {
        off.trace_to("/nonexistent-directory/trace.json");
        FAIL() << "no error for an unwritable trace path";
    } catch (offload::configuration_error const& e) {
        EXPECT_NE(std::string(e.what()).find("cannot write the trace to /nonexistent-directory/trace.json"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(off.statistics().counts.passes, 0u);
}

}  // namespace
