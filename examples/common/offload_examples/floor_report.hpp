#pragma once
// A pass floor (pass_floor.hpp) and a pass time against it, as the lines of a
// report and as fields of a JSON object. An absent figure prints as "-" with
// its reason, and is left out of the JSON; never 0.
#include <optional>
#include <ostream>
#include <string>

#include <boost/json.hpp>

#include "figures.hpp"
#include "pass_floor.hpp"

namespace offload_examples {

// Seven lines, each "  label     figure  (how it was measured)": the streamed
// bytes, the H2D rate, the two terms, the floor, the pass and its ratio.
// pass_how says how pass_ms was measured ("mean of 10 passes, host clock").
inline void write_floor_lines(std::ostream& out, pass_floor const& f, double pass_ms, std::string const& pass_how) {
    auto const& bw = f.bandwidth;
    out << "  streamed   " << bytes_text(f.streamed_bytes) << " host to device a pass\n";
    out << "  H2D        "
        << (bw.GBps ? printed("%.2f GB/s", *bw.GBps) + " pinned (" + bytes_text(bw.copy_bytes) + " copy, best of " +
                          std::to_string(bw.copies) + ")"
                    : "- GB/s (" + bw.absent_reason + ")")
        << "\n";
    std::string const no_rate = "no H2D rate";
    out << "  transfer   " << ms_text(f.transfer_ms(), no_rate) << (f.transfer_ms() ? "  streamed bytes / H2D" : "")
        << "\n";
    out << "  compute    " << ms_text(f.compute_ms, f.compute_absent_reason)
        << (f.compute_ms ? "  all-resident pass, median of " + std::to_string(f.compute_passes) : "") << "\n";
    auto const floor = f.floor_ms();
    std::string floor_how = "max(transfer, compute)";
    if (!f.transfer_ms() || !f.compute_ms) floor_how = f.compute_ms ? "compute alone" : "transfer alone";
    out << "  floor      " << ms_text(floor, "neither term measured") << (floor ? "  " + floor_how : "") << "\n";
    out << "  pass       " << printed("%.3f ms", pass_ms) << "  " << pass_how << "\n";
    auto const ratio = f.ratio(pass_ms);
    out << "  ratio      "
        << (ratio ? printed("%.3fx the floor", *ratio) : std::string(floor ? "- (the floor is 0 ms)" : "- (no floor)"))
        << "\n";
}

// floor_streamed_bytes always; floor_h2d_GBps, floor_transfer_ms,
// floor_compute_ms, floor_ms and ratio_to_floor when measured; the reason of
// an absent term in floor_h2d_note / floor_compute_note.
inline void add_floor_json(boost::json::object& o, pass_floor const& f, double pass_ms) {
    o["floor_streamed_bytes"] = f.streamed_bytes;
    if (f.bandwidth.GBps) {
        o["floor_h2d_GBps"] = *f.bandwidth.GBps;
        o["floor_h2d_copy_bytes"] = f.bandwidth.copy_bytes;
    } else {
        o["floor_h2d_note"] = f.bandwidth.absent_reason;
    }
    if (auto const t = f.transfer_ms()) o["floor_transfer_ms"] = *t;
    if (f.compute_ms) {
        o["floor_compute_ms"] = *f.compute_ms;
        o["floor_compute_passes"] = f.compute_passes;
    } else {
        o["floor_compute_note"] = f.compute_absent_reason;
    }
    if (auto const floor = f.floor_ms()) o["floor_ms"] = *floor;
    if (auto const ratio = f.ratio(pass_ms)) o["ratio_to_floor"] = *ratio;
}

}  // namespace offload_examples
