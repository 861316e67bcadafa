#pragma once
// The stats of several offloaders that work as one, such as one offloader per
// GPU of a tensor-parallel group, merged into one value: counters and bytes
// summed, time taken from the slowest rank (the group waits for it at every
// collective), and each rank's overlap efficiency listed, since a mean of
// ratios would hide the rank that overlaps badly. Converts to and from JSON
// like offload::stats. Host-only.
//
// The stats rule holds here too: a merged figure is present only when every
// rank measured it. A rank without timing (profile::none, no completed pass)
// makes the merged timing absent; a rank without a copy makes the merged copy
// figures absent. Never a 0 in their place.
#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

#include <boost/json.hpp>

#include <offload/errors.hpp>
#include <offload/stats.hpp>

namespace offload::multi {

struct merged_timing {
    std::size_t slowest_rank = 0;  // the rank with the largest total pass wall time (the first such)
    pass_wall_stats pass_wall;     // that rank's, whole
    std::optional<double> cpu_to_gpu_transfer_ms;  // the largest of the ranks'
    double pure_computation_ms = 0;                // the largest of the ranks'
    std::optional<double> transfer_overhead_ms;    // the largest of the ranks'
    // The sum of the ranks' copy rates: what their links move together, the
    // ranks' copies running at the same time (a tensor-parallel group's do).
    std::optional<double> h2d_gb_per_s;
    std::vector<std::optional<double>> overlap_efficiency;  // per rank, absent where that rank's is

    friend bool operator==(merged_timing const&, merged_timing const&) = default;
};

struct merged_stats {
    std::size_t ranks = 0;
    counters counts;       // summed: passes count rank-passes
    memory_stats memory;   // summed over the ranks' devices and host memory
    std::optional<merged_timing> timing;  // absent unless every rank has timing
    std::vector<stats> per_rank;

    friend bool operator==(merged_stats const&, merged_stats const&) = default;
};

namespace detail {

// The largest of the ranks' values of an optional figure, or absent if any rank lacks it.
template <class Get>
std::optional<double> largest_of_all(std::vector<stats> const& ranks, Get get) {
    std::optional<double> out;
    for (auto const& s : ranks) {
        std::optional<double> const v = get(*s.timing);
        if (!v) return std::nullopt;
        out = out ? std::max(*out, *v) : *v;
    }
    return out;
}

inline merged_timing merge_timing(std::vector<stats> const& ranks) {
    merged_timing t;
    for (std::size_t r = 0; r < ranks.size(); ++r) {
        auto const& rt = *ranks[r].timing;
        if (rt.pass_wall.total_ms > ranks[t.slowest_rank].timing->pass_wall.total_ms) t.slowest_rank = r;
        t.pure_computation_ms = std::max(t.pure_computation_ms, rt.pure_computation_ms);
        t.overlap_efficiency.push_back(rt.overlap_efficiency);
    }
    t.pass_wall = ranks[t.slowest_rank].timing->pass_wall;
    t.cpu_to_gpu_transfer_ms = largest_of_all(ranks, [](timing_stats const& x) { return x.cpu_to_gpu_transfer_ms; });
    t.transfer_overhead_ms = largest_of_all(ranks, [](timing_stats const& x) { return x.transfer_overhead_ms; });
    for (auto const& s : ranks) {
        if (!s.timing->h2d_gb_per_s) {
            t.h2d_gb_per_s.reset();
            break;
        }
        t.h2d_gb_per_s = t.h2d_gb_per_s.value_or(0.0) + *s.timing->h2d_gb_per_s;
    }
    return t;
}

}  // namespace detail

// Throws configuration_error for an empty list: there is nothing to merge.
inline merged_stats merge(std::vector<stats> per_rank) {
    if (per_rank.empty()) throw configuration_error("offload::multi::merge: no ranks to merge");
    merged_stats m;
    m.ranks = per_rank.size();
    bool all_timed = true;
    for (auto const& s : per_rank) {
        m.counts += s.counts;
        auto& mem = m.memory;
        mem.resident_bytes += s.memory.resident_bytes;
        mem.staging_bytes += s.memory.staging_bytes;
        mem.pinned_host_bytes += s.memory.pinned_host_bytes;
        mem.pageable_host_bytes += s.memory.pageable_host_bytes;
        mem.registered_host_bytes += s.memory.registered_host_bytes;
        mem.already_locked_host_bytes += s.memory.already_locked_host_bytes;
        all_timed = all_timed && s.timing.has_value();
    }
    if (all_timed) m.timing = detail::merge_timing(per_rank);
    m.per_rank = std::move(per_rank);
    return m;
}

inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, merged_stats const& m) {
    boost::json::object o{{"ranks", m.ranks},
                          {"counters", offload::detail::counters_json(m.counts)},
                          {"memory", offload::detail::memory_json(m.memory)}};
    if (m.timing) {
        auto const& t = *m.timing;
        boost::json::object to{{"slowest_rank", t.slowest_rank},
                               {"pass_wall_ms", offload::detail::pass_wall_json(t.pass_wall)},
                               {"pure_computation_ms", t.pure_computation_ms}};
        offload::detail::put_optional(to, "cpu_to_gpu_transfer_ms", t.cpu_to_gpu_transfer_ms);
        offload::detail::put_optional(to, "transfer_overhead_ms", t.transfer_overhead_ms);
        offload::detail::put_optional(to, "h2d_GBps", t.h2d_gb_per_s);
        // A list by rank: null where that rank's efficiency is absent.
        boost::json::array eff;
        for (auto const& e : t.overlap_efficiency) eff.push_back(e ? boost::json::value(*e) : boost::json::value(nullptr));
        to["overlap_efficiency"] = std::move(eff);
        o["timing"] = std::move(to);
    }
    o["per_rank"] = boost::json::value_from(m.per_rank);
    jv = std::move(o);
}

inline merged_stats tag_invoke(boost::json::value_to_tag<merged_stats>, boost::json::value const& jv) {
    using offload::detail::get;
    auto const& o = jv.as_object();
    merged_stats m;
    m.ranks = get<std::size_t>(o, "ranks");
    m.counts = offload::detail::counters_from(o.at("counters").as_object());
    m.memory = offload::detail::memory_from(o.at("memory").as_object());
    if (auto const* tv = o.if_contains("timing")) {
        auto const& to = tv->as_object();
        merged_timing t;
        t.slowest_rank = get<std::size_t>(to, "slowest_rank");
        t.pass_wall = offload::detail::pass_wall_from(to.at("pass_wall_ms").as_object());
        t.pure_computation_ms = get<double>(to, "pure_computation_ms");
        t.cpu_to_gpu_transfer_ms = offload::detail::get_optional<double>(to, "cpu_to_gpu_transfer_ms");
        t.transfer_overhead_ms = offload::detail::get_optional<double>(to, "transfer_overhead_ms");
        t.h2d_gb_per_s = offload::detail::get_optional<double>(to, "h2d_GBps");
        for (auto const& e : to.at("overlap_efficiency").as_array())
            t.overlap_efficiency.push_back(e.is_null() ? std::nullopt
                                                       : std::optional<double>(boost::json::value_to<double>(e)));
        m.timing = std::move(t);
    }
    m.per_rank = get<std::vector<stats>>(o, "per_rank");
    return m;
}

}  // namespace offload::multi
