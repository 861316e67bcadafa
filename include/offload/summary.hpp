#pragma once
// A profiling summary for a terminal of 80 columns, written from the stats:
// per-layer compute and transfer times, the totals with their share of the
// pass, the savings that overlap could make and did make, and the stall.
#include <algorithm>
#include <cstdio>
#include <ostream>
#include <string>

#include <offload/stats.hpp>

namespace offload {

namespace detail {
inline std::string format(char const* fmt, double a, double b = 0, double c = 0) {
    char line[128];
    std::snprintf(line, sizeof line, fmt, a, b, c);
    return line;
}
inline std::string ms_or_dash(std::optional<double> const& v) {
    return v ? format("%10.3f", *v) : std::string("         -");
}
}  // namespace detail

inline void write_summary(std::ostream& out, stats const& s) {
    out << "offload: " << s.counts.passes << " passes, " << s.resident_layers.size() << " resident + "
        << s.streamed_layers.size() << " streamed layers\n  " << s.backend << " backend, " << s.residency << ", "
        << s.prefetch << " (" << s.staging_slots << " slots), profiler " << s.profiler << "\n";
    if (!s.timing) {
        if (s.profiler_measures_time)
            out << "  no timing yet: no pass has completed since the start or the last reset";
        else
            out << "  no timing: profiler " << s.profiler << " measures no time";
        out << " (counters: " << s.counts.layer_loads << " loads, " << s.counts.bytes_host_to_device
            << " bytes to device)\n";
        return;
    }
    auto const& t = *s.timing;
    double const wall = t.pass_wall.total_ms;
    auto share = [&](double v) { return wall > 0 ? 100.0 * v / wall : 0.0; };
    out << "  layer  where      compute ms  transfer ms     stall ms   release ms\n";
    for (auto const& l : s.layers)
        out << detail::format("  %5.0f", static_cast<double>(l.index)) << (l.resident ? "  resident " : "  streamed ")
            << detail::ms_or_dash(l.compute_ms) << "   " << detail::ms_or_dash(l.transfer_ms) << "   "
            << detail::ms_or_dash(l.stall_ms) << "   " << detail::ms_or_dash(l.release_ms) << "\n";
    out << "  (means per pass over " << t.pass_wall.count << " passes)\n";
    out << detail::format("  wall time         %12.3f ms  (per pass: min %.3f, median %.3f)\n", wall,
                          t.pass_wall.min_ms, t.pass_wall.median_ms);
    // An absent figure prints as "-" with the reason it is absent.
    auto line = [&](char const* label, std::optional<double> const& v, char const* absent) {
        char head[32];
        std::snprintf(head, sizeof head, "  %-18s", label);
        out << head;
        if (v)
            out << detail::format("%12.3f ms  %5.1f%% of wall", *v, share(*v));
        else
            out << "           - ms  (" << absent << ")";
    };
    line("CPU to GPU", t.cpu_to_gpu_transfer_ms, "nothing copied");
    if (t.h2d_gb_per_s) out << detail::format(", %.2f GB/s", *t.h2d_gb_per_s);
    out << "\n";
    line("GPU to CPU", t.gpu_to_cpu_release_ms, "nothing written back");
    out << "\n";
    line("compute", t.pure_computation_ms, "");
    out << "\n";
    line("stalled on copies", t.transfer_overhead_ms, "no layer waited for a copy");
    out << "\n";
    out << detail::format("  async savings     %12.3f ms  achieved of %.3f ms possible", t.achieved_async_savings_ms,
                          t.theoretical_async_savings_ms);
    if (t.overlap_efficiency) out << detail::format(" (%.1f%%)", 100.0 * *t.overlap_efficiency);
    out << "\n";
    if (s.codec != "none") {
        double const logical = static_cast<double>(s.counts.logical_bytes_host_to_device);
        out << "  codec " << s.codec;
        if (logical > 0)
            out << detail::format(": moved %.1f%% of the logical bytes",
                                  100.0 * static_cast<double>(s.counts.bytes_host_to_device) / logical);
        if (t.effective_h2d_gb_per_s) out << detail::format(", %.2f GB/s effective", *t.effective_h2d_gb_per_s);
        out << "\n";
        line("decode", t.decode_ms, "nothing decoded");
        out << "\n";
        double worst = 0;
        for (auto const& b : s.codec_buffers) worst = std::max(worst, b.relative_l2_error.value_or(0));
        if (!s.codec_buffers.empty())
            out << detail::format("  worst relative L2 error of an encoded buffer: %.3f%%\n", 100.0 * worst);
    }
}

}  // namespace offload
