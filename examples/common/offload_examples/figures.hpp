#pragma once
// Figures as a report prints them: decimal units (MB, GB, GB/s, as the
// benchmarks and docs/performance.md say them), and an absent figure as "-"
// with the reason it is absent, never as 0.
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>

namespace offload_examples {

// printf for one line of a report.
template <class... Args>
std::string printed(char const* format, Args... args) {
    char text[256];
    std::snprintf(text, sizeof text, format, args...);
    return text;
}

// 352.3 MB, 7.047 GB, 12.0 kB, 40 bytes.
inline std::string bytes_text(std::size_t bytes) {
    double const b = static_cast<double>(bytes);
    if (b >= 1e9) return printed("%.3f GB", b / 1e9);
    if (b >= 1e6) return printed("%.1f MB", b / 1e6);
    if (b >= 1e3) return printed("%.1f kB", b / 1e3);
    return std::to_string(bytes) + " bytes";
}

// "12.345 ms", or "- ms (why)" for an absent figure.
inline std::string ms_text(std::optional<double> const& ms, std::string const& absent_because) {
    return ms ? printed("%.3f ms", *ms) : "- ms (" + absent_because + ")";
}

}  // namespace offload_examples
