#pragma once
// Reads every page the layers' tensors use, so that the first pass (or the
// copy into pinned memory, or the page-locking of the mapping) does not stall
// on page faults one page at a time, and so that a long load says how far it
// is. Progress goes out only once loading has taken longer than
// `progress_after` (1 s), then every `progress_after`: a small model loads
// silently.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <ostream>

#include <unistd.h>

#include <offload/source/safetensors/layers.hpp>

namespace offload::safetensors {

struct load_options {
    bool quiet = false;
    std::ostream* progress = nullptr;  // nullptr: std::cerr
    std::chrono::steady_clock::duration progress_after = std::chrono::seconds(1);
};

namespace detail {

inline void print_progress(std::ostream& out, char const* verb, std::size_t done, std::size_t total,
                           std::chrono::steady_clock::duration elapsed) {
    double const seconds = std::chrono::duration<double>(elapsed).count();
    double const mb = 1e-6 * static_cast<double>(done);
    char line[160];
    std::snprintf(line, sizeof line, "offload: safetensors: %s %.1f of %.1f MB in %.1f s (%.1f MB/s)\n", verb, mb,
                  1e-6 * static_cast<double>(total), seconds, seconds > 0 ? mb / seconds : 0.0);
    out << line << std::flush;
}

}  // namespace detail

inline void prefault(layered_model const& layered, load_options const& options = {}) {
    using clock = std::chrono::steady_clock;
    std::size_t const page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::size_t const report_every = std::size_t{64} << 20;  // bytes between clock reads
    std::ostream& out = options.progress != nullptr ? *options.progress : std::cerr;
    bool const may_print = !options.quiet;

    std::size_t total = 0;
    for (auto const& layer : layered.layers)
        for (auto const& t : layer) total += t.bytes;

    auto const start = clock::now();
    auto last_print = start;
    bool printed = false;
    std::size_t done = 0;
    std::size_t since_check = 0;
    unsigned char sum = 0;
    for (auto const& layer : layered.layers) {
        for (auto const& t : layer) {
            if (t.bytes == 0) continue;
            auto const* bytes = reinterpret_cast<unsigned char const*>(t.data);
            // One read in each page the tensor touches: its first byte, then each page start.
            auto const first_page_end = page - reinterpret_cast<std::uintptr_t>(bytes) % page;
            sum += bytes[0];
            for (std::size_t at = first_page_end; at < t.bytes; at += page) sum += bytes[at];
            done += t.bytes;
            since_check += t.bytes;
            if (since_check < report_every) continue;
            since_check = 0;
            auto const now = clock::now();
            if (may_print && now - last_print >= options.progress_after) {
                detail::print_progress(out, "prefaulted", done, total, now - start);
                last_print = now;
                printed = true;
            }
        }
    }
    // Keeps the reads: without a use of `sum` the compiler may drop them.
    [[maybe_unused]] unsigned char volatile const sink = sum;
    auto const elapsed = clock::now() - start;
    if (may_print && (printed || elapsed >= options.progress_after))
        detail::print_progress(out, "loaded", done, total, elapsed);
}

}  // namespace offload::safetensors
