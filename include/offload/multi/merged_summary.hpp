#pragma once
// The merged stats of several offloaders as a table for a terminal of 80
// columns: one column per rank and one for all of them (sums, or the slowest
// rank's time), in blocks of five columns when there are more ranks. An
// absent figure prints as "-".
#include <cstddef>
#include <cstdio>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <offload/multi/merged_stats.hpp>

namespace offload::multi {

namespace detail {

constexpr std::size_t summary_columns = 5;  // 18 for the label + 5 x 12 = 78 columns

inline std::string cell(std::optional<double> v, char const* fmt) {
    if (!v) return "           -";
    char text[64];
    std::snprintf(text, sizeof text, fmt, *v);
    return text;
}

// One row: the figure of each rank (taken from its stats) and of all (from the merge).
struct summary_row {
    char const* label;
    char const* format;
    std::function<std::optional<double>(stats const&)> rank;
    std::function<std::optional<double>(merged_stats const&)> all;
};

template <class Get>
std::function<std::optional<double>(stats const&)> timed(Get get) {
    return [get](stats const& s) { return s.timing ? get(*s.timing) : std::nullopt; };
}
template <class Get>
std::function<std::optional<double>(merged_stats const&)> merged_timed(Get get) {
    return [get](merged_stats const& m) { return m.timing ? get(*m.timing) : std::nullopt; };
}

}  // namespace detail

inline void write_summary(std::ostream& out, merged_stats const& m) {
    using detail::summary_row;
    using opt = std::optional<double>;
    auto count = [](std::size_t v) { return opt(static_cast<double>(v)); };
    std::vector<summary_row> const rows = {
        {"passes", "%12.0f", [&](stats const& s) { return count(s.counts.passes); },
         [&](merged_stats const& a) { return count(a.counts.passes); }},
        {"layer loads", "%12.0f", [&](stats const& s) { return count(s.counts.layer_loads); },
         [&](merged_stats const& a) { return count(a.counts.layer_loads); }},
        {"MB to device", "%12.1f", [](stats const& s) { return opt(s.counts.bytes_host_to_device / 1e6); },
         [](merged_stats const& a) { return opt(a.counts.bytes_host_to_device / 1e6); }},
        {"wall ms", "%12.3f", detail::timed([](timing_stats const& t) { return opt(t.pass_wall.total_ms); }),
         detail::merged_timed([](merged_timing const& t) { return opt(t.pass_wall.total_ms); })},
        {"median pass ms", "%12.3f", detail::timed([](timing_stats const& t) { return opt(t.pass_wall.median_ms); }),
         detail::merged_timed([](merged_timing const& t) { return opt(t.pass_wall.median_ms); })},
        {"CPU to GPU ms", "%12.3f", detail::timed([](timing_stats const& t) { return t.cpu_to_gpu_transfer_ms; }),
         detail::merged_timed([](merged_timing const& t) { return t.cpu_to_gpu_transfer_ms; })},
        {"CPU to GPU GB/s", "%12.2f", detail::timed([](timing_stats const& t) { return t.h2d_gb_per_s; }),
         detail::merged_timed([](merged_timing const& t) { return t.h2d_gb_per_s; })},
        {"compute ms", "%12.3f", detail::timed([](timing_stats const& t) { return opt(t.pure_computation_ms); }),
         detail::merged_timed([](merged_timing const& t) { return opt(t.pure_computation_ms); })},
        {"stalled ms", "%12.3f", detail::timed([](timing_stats const& t) { return t.transfer_overhead_ms; }),
         detail::merged_timed([](merged_timing const& t) { return t.transfer_overhead_ms; })},
        {"overlap %", "%12.1f",
         detail::timed([](timing_stats const& t) {
             return t.overlap_efficiency ? opt(100.0 * *t.overlap_efficiency) : std::nullopt;
         }),
         [](merged_stats const&) { return opt(); }},  // a ratio per rank: no merged value
    };

    out << "offload: " << m.ranks << " ranks; all = the sum, or the slowest rank's time";
    if (m.timing) out << " (rank " << m.timing->slowest_rank << ")";
    out << "\n";
    if (!m.timing) out << "  no merged timing: a rank has none (no timing profiler, or no pass completed)\n";
    // Columns 0..ranks-1 are the ranks, column `ranks` is all of them.
    std::size_t const columns = m.ranks + 1;
    for (std::size_t first = 0; first < columns; first += detail::summary_columns) {
        std::size_t const last = std::min(columns, first + detail::summary_columns);
        char head[32];
        std::snprintf(head, sizeof head, "  %-16s", "");
        out << head;
        for (std::size_t c = first; c < last; ++c) {
            std::string const name = c < m.ranks ? "rank " + std::to_string(c) : "all";
            std::snprintf(head, sizeof head, "%12s", name.c_str());
            out << head;
        }
        out << "\n";
        for (auto const& r : rows) {
            std::snprintf(head, sizeof head, "  %-16s", r.label);
            out << head;
            for (std::size_t c = first; c < last; ++c)
                out << detail::cell(c < m.ranks ? r.rank(m.per_rank[c]) : r.all(m), r.format);
            out << "\n";
        }
    }
}

}  // namespace offload::multi
