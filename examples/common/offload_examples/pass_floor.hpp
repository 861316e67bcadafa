#pragma once
// The floor of a pass: the least time one pass of a stack can take on this
// machine, max(transfer floor, compute floor), both measured in the same
// process as the pass they judge (docs/performance.md):
//   - transfer floor: the bytes a pass moves host to device over the pinned
//     host-to-device bandwidth (h2d_bandwidth.hpp);
//   - compute floor: the pass time of the same stack with every layer
//     resident (all_resident() below), so that nothing is copied.
// A term that could not be measured is absent with its reason, and the floor
// is then the other term alone; never a made-up figure.
#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include <offload/config.hpp>
#include <offload/errors.hpp>
#include <offload/stats.hpp>

#include "h2d_bandwidth.hpp"

namespace offload_examples {

struct pass_floor {
    std::size_t streamed_bytes = 0;  // host-to-device bytes one pass moves (encoded, under a codec)
    h2d_bandwidth bandwidth;
    std::optional<double> compute_ms;  // the all-resident pass time
    std::string compute_absent_reason;
    std::size_t compute_passes = 0;  // the all-resident passes compute_ms is the median of

    // Nothing to move takes no time, whatever the link: a measured zero.
    std::optional<double> transfer_ms() const {
        if (streamed_bytes == 0) return 0.0;
        if (!bandwidth.GBps) return std::nullopt;
        return static_cast<double>(streamed_bytes) / (*bandwidth.GBps * 1e6);
    }
    std::optional<double> floor_ms() const {
        auto const transfer = transfer_ms();
        if (transfer && compute_ms) return std::max(*transfer, *compute_ms);
        return transfer ? transfer : compute_ms;
    }
    // pass_ms over the floor; absent without a floor, or with a floor of 0 ms.
    std::optional<double> ratio(double pass_ms) const {
        auto const floor = floor_ms();
        if (!floor || *floor <= 0) return std::nullopt;
        return pass_ms / *floor;
    }
};

// Bytes one pass moves: each streamed layer is copied once a pass, moving
// its moved_bytes. Over whole passes that is counters.bytes_host_to_device /
// counters.passes; this sum does not depend on when the copies are issued.
inline std::size_t streamed_bytes_per_pass(offload::stats const& s) {
    std::size_t bytes = 0;
    for (auto const& l : s.layers)
        if (!l.resident) bytes += l.moved_bytes;
    return bytes;
}

// The configuration of the compute floor's run: cfg with every one of
// `layers` layers resident (first_n), and no periodic summary.
inline offload::config all_resident(offload::config cfg, std::size_t layers) {
    cfg.preset = "manual";
    cfg.num_layers_on_gpu = layers;
    cfg.summary_every = 0;
    return cfg;
}

// Fills the compute floor from run(), which runs the stack all-resident with
// a timing profiler and returns its stats: the median of its timed passes.
// A stack that does not fit on the device has no compute floor.
template <class RunAllResident>
void measure_compute_floor(pass_floor& f, RunAllResident&& run) {
    try {
        offload::stats const s = std::forward<RunAllResident>(run)();
        if (!s.timing) {
            f.compute_absent_reason = "the all-resident run timed no pass";
            return;
        }
        f.compute_ms = s.timing->pass_wall.median_ms;
        f.compute_passes = s.timing->pass_wall.count;
    } catch (offload::out_of_memory const& e) {
        f.compute_absent_reason = "the all-resident stack does not fit on the device: an allocation of " +
                                  std::to_string(e.requested_bytes) + " bytes found " +
                                  std::to_string(e.available_bytes) + " free";
    }
}

}  // namespace offload_examples
