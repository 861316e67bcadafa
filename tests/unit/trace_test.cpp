// The Perfetto trace: valid JSON, spans that nest on each track, and counts
// and durations that agree with the stats.
#include <offload/profile/trace.hpp>

#include <filesystem>
#include <fstream>
#include <map>
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

TEST(trace, spans_nest_per_track_and_agree_with_the_stats) {
    constexpr std::size_t passes = 3;
    std::vector<std::uint32_t> weights(2048, 1), state(64, 0);
    offload::model m;
    for (int i = 0; i < 5; ++i) m.add_layer({{weights.data(), weights.size() * 4}});
    m.add_layer({{weights.data(), weights.size() * 4}, {state.data(), state.size() * 4, offload::access::read_write}});
    auto const path = temp_trace("spans");
    offload::stats s;
    {
        offload::backend::host_options slow;
        slow.link_bytes_per_second = 1e9;
        offloader off(m, offload::presets::manual(2), slow);
        off.trace_to(path);
        for (std::size_t p = 0; p < passes; ++p)
            for ([[maybe_unused]] auto layer : off.pass()) std::this_thread::sleep_for(std::chrono::microseconds(50));
        s = off.statistics();
    }  // the destructor writes the trace
    auto const trace = read_json(path);
    std::map<std::int64_t, std::vector<std::pair<double, double>>> tracks;
    std::map<std::string, double> total_us;
    std::size_t copies = 0, computes = 0, waits = 0, writebacks = 0;
    std::size_t copied_bytes = 0;
    for (auto const& v : trace.at("traceEvents").as_array()) {
        auto const& e = v.as_object();
        if (e.at("ph").as_string() != "X") continue;
        std::string const name(e.at("name").as_string());
        double const ts = e.at("ts").to_number<double>(), dur = e.at("dur").to_number<double>();
        EXPECT_GE(dur, 0) << name;
        tracks[e.at("tid").to_number<std::int64_t>()].emplace_back(ts, ts + dur);
        std::string const kind = name.substr(0, name.find(" layer"));
        total_us[kind] += dur;
        if (kind == "copy") {
            ++copies;
            copied_bytes += e.at("args").at("bytes").to_number<std::size_t>();
        }
        computes += kind == "compute";
        waits += kind == "wait";
        writebacks += kind == "write back";
    }
    // On one track, any two spans are either disjoint or one holds the other
    // (to a nanosecond: an end is read back as ts + dur, which rounds).
    constexpr double ns = 1e-3;
    for (auto& [tid, spans] : tracks) {
        std::sort(spans.begin(), spans.end(), [](auto a, auto b) { return a.first < b.first || (a.first == b.first && a.second > b.second); });
        std::vector<double> open_ends;
        for (auto [begin, end] : spans) {
            while (!open_ends.empty() && open_ends.back() <= begin + ns) open_ends.pop_back();
            if (!open_ends.empty()) {
                EXPECT_LE(end, open_ends.back() + ns) << "track " << tid << " span at " << begin;
            }
            open_ends.push_back(end);
        }
    }
    auto const& t = *s.timing;
    EXPECT_EQ(copies, s.counts.layer_loads);
    EXPECT_EQ(copied_bytes, s.counts.bytes_host_to_device);
    EXPECT_EQ(computes, s.counts.layer_computes);
    EXPECT_EQ(waits, passes * s.streamed_layers.size());
    EXPECT_EQ(writebacks, passes);
    EXPECT_NEAR(total_us["copy"] / 1e3, t.cpu_to_gpu_transfer_ms, 1e-3 * t.cpu_to_gpu_transfer_ms + 1e-3);
    EXPECT_NEAR(total_us["compute"] / 1e3, t.pure_computation_ms, 1e-3 * t.pure_computation_ms + 1e-3);
    EXPECT_NEAR(total_us["wait"] / 1e3, t.transfer_overhead_ms, 1e-3 * t.transfer_overhead_ms + 1e-3);
    EXPECT_NEAR(total_us["write back"] / 1e3, *t.gpu_to_cpu_release_ms, 1e-3 * *t.gpu_to_cpu_release_ms + 1e-3);
    std::filesystem::remove(path);
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
