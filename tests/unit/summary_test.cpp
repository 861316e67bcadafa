// The periodic summary: when it is written, that it fits 80 columns, and that
// its figures are the stats'.
#include <offload/summary.hpp>

#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <offload/layer_offloader.hpp>
#include <offload/profile/none.hpp>

#include "support.hpp"

namespace {

using offloader = offload::layer_offloader<offload::backend::host, offload::residency::first_n,
                                           offload::prefetch::lookahead<2>, offload::profile::events>;

std::vector<std::string> lines_of(std::string const& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string fixed3(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

TEST(summary, is_written_every_summary_every_passes_and_fits_80_columns) {
    offload::testing::patterned_model w(6);
    std::ostringstream out;
    offload::config cfg = offload::presets::manual(2);
    cfg.summary_every = 2;
    cfg.summary_stream = &out;
    offloader off(w.get(), cfg);
    for (int p = 0; p < 5; ++p)
        for (auto layer : off.pass()) (void)layer;
    auto const lines = lines_of(out.str());
    std::size_t headers = 0;
    for (auto const& line : lines) {
        EXPECT_LE(line.size(), 80u) << line;
        if (line.rfind("offload: ", 0) == 0) ++headers;
    }
    EXPECT_EQ(headers, 2u);  // after passes 2 and 4
    EXPECT_NE(out.str().find("offload: 4 passes, 2 resident + 4 streamed layers"), std::string::npos) << out.str();
}

TEST(summary, shows_the_figures_of_the_stats) {
    offload::testing::patterned_model w(6);
    offloader off(w.get(), offload::presets::manual(2));
    for (int p = 0; p < 3; ++p)
        for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();
    std::ostringstream out;
    offload::write_summary(out, s);
    auto const text = out.str();
    auto const& t = *s.timing;
    ASSERT_TRUE(t.cpu_to_gpu_transfer_ms && t.transfer_overhead_ms);
    for (double v : {t.pass_wall.total_ms, *t.cpu_to_gpu_transfer_ms, t.pure_computation_ms, *t.transfer_overhead_ms,
                     t.achieved_async_savings_ms, t.theoretical_async_savings_ms, *s.layers[3].transfer_ms,
                     *s.layers[0].compute_ms})
        EXPECT_NE(text.find(fixed3(v)), std::string::npos) << fixed3(v) << " not in\n" << text;
    EXPECT_NE(text.find("nothing written back"), std::string::npos);
    double const share = 100.0 * t.pure_computation_ms / t.pass_wall.total_ms;
    char pct[32];
    std::snprintf(pct, sizeof pct, "%5.1f%% of wall", share);
    EXPECT_NE(text.find(pct), std::string::npos) << pct << "\n" << text;
}

TEST(summary, without_a_timing_profiler_names_the_profiler_built) {
    offload::testing::patterned_model w(4);
    offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::lookahead<2>,
                             offload::profile::none>
        off(w.get(), offload::presets::manual(1));
    for (auto layer : off.pass()) (void)layer;
    std::ostringstream out;
    offload::write_summary(out, off.statistics());
    EXPECT_NE(out.str().find("no timing: profiler none measures no time"), std::string::npos) << out.str();
}

TEST(summary, with_a_timing_profiler_and_no_pass_yet_says_no_pass_has_completed) {
    offload::testing::patterned_model w(4);
    offloader off(w.get(), offload::presets::manual(1));
    std::ostringstream out;
    offload::write_summary(out, off.statistics());
    EXPECT_NE(out.str().find("no timing yet: no pass has completed"), std::string::npos) << out.str();
    EXPECT_EQ(out.str().find("measures no time"), std::string::npos) << out.str();
}

}  // namespace
