#pragma once
// What a run did and what it cost, as a value that converts to and from JSON
// with boost::json::value_from / value_to. Field names keep the
// OffloadingMetrics shape that existing front ends read; docs/stats.md gives
// each field's unit and how it is measured. Timing fields are std::optional:
// absent means "not measured" (no timing profiler, or nothing of that kind
// happened), never zero.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace offload {

struct layer_stats {
    std::size_t index = 0;
    bool resident = false;
    std::size_t bytes = 0;        // payload bytes of the layer's buffers
    std::size_t loads = 0;        // host-to-device copies of this layer
    std::size_t moved_bytes = 0;  // bytes one copy of it moves: encoded under a codec, padding included
    std::size_t samples = 0;      // passes the timing means below are taken over
    std::optional<double> compute_ms;   // mean per pass
    std::optional<double> transfer_ms;  // mean per load
    std::optional<double> stall_ms;     // mean per pass: compute waiting for this layer's weights
    std::optional<double> release_ms;   // mean per pass: write-back of read-write buffers
    std::optional<double> decode_ms;    // mean per load: the codec's decode on the device

    friend bool operator==(layer_stats const&, layer_stats const&) = default;
};

struct pass_wall_stats {
    std::size_t count = 0;
    double total_ms = 0;
    double min_ms = 0;
    double median_ms = 0;
    double max_ms = 0;
    double last_ms = 0;

    friend bool operator==(pass_wall_stats const&, pass_wall_stats const&) = default;
};

// Filled only by a timing profiler, and only once a pass it timed has
// completed: a figure with no sample behind it is absent, never 0.
struct timing_stats {
    std::optional<double> cpu_to_gpu_transfer_ms;  // absent when no copy was timed
    std::optional<double> gpu_to_cpu_release_ms;   // absent when no streamed layer wrote back
    double pure_computation_ms = 0;
    std::optional<double> transfer_overhead_ms;    // absent when compute never waited for a copy
    std::optional<double> avg_layer_transfer_ms;   // absent when no copy was timed
    double theoretical_async_savings_ms = 0;
    double achieved_async_savings_ms = 0;          // signed: negative when the passes were host-bound
    std::optional<double> overlap_efficiency;      // in [0, 1]; absent when overlap could save too little to judge
    std::optional<double> h2d_gb_per_s;            // absent when nothing was copied
    std::optional<double> effective_h2d_gb_per_s;  // logical (decoded) bytes over transfer time; absent likewise
    std::optional<double> decode_ms;               // absent without a codec, or when nothing was decoded
    pass_wall_stats pass_wall;

    friend bool operator==(timing_stats const&, timing_stats const&) = default;
};

struct counters {
    std::size_t passes = 0;          // completed passes
    std::size_t aborted_passes = 0;  // passes left by an exception; not in any other figure
    std::size_t layer_computes = 0;
    std::size_t layer_loads = 0;
    std::size_t bytes_host_to_device = 0;          // what crossed the link (encoded under a codec)
    std::size_t bytes_device_to_host = 0;
    std::size_t logical_bytes_host_to_device = 0;  // the weights those copies delivered, decoded
    std::size_t replayed_passes = 0;  // of passes, those run as a replay of a captured graph
    // Copies issued ahead for a pass that never began (the pass before was
    // abandoned, or a graph replay came first): not loads of any pass.
    std::size_t unused_prefetches = 0;

    friend bool operator==(counters const&, counters const&) = default;
    // Counters add up over ranks, and over the replays of a captured pass.
    friend counters& operator+=(counters& a, counters const& b) noexcept {
        a.passes += b.passes;
        a.aborted_passes += b.aborted_passes;
        a.layer_computes += b.layer_computes;
        a.layer_loads += b.layer_loads;
        a.bytes_host_to_device += b.bytes_host_to_device;
        a.bytes_device_to_host += b.bytes_device_to_host;
        a.logical_bytes_host_to_device += b.logical_bytes_host_to_device;
        a.replayed_passes += b.replayed_passes;
        a.unused_prefetches += b.unused_prefetches;
        return a;
    }
    // What happened between two readings (b taken before a).
    friend counters operator-(counters a, counters const& b) noexcept {
        a.passes -= b.passes;
        a.aborted_passes -= b.aborted_passes;
        a.layer_computes -= b.layer_computes;
        a.layer_loads -= b.layer_loads;
        a.bytes_host_to_device -= b.bytes_host_to_device;
        a.bytes_device_to_host -= b.bytes_device_to_host;
        a.logical_bytes_host_to_device -= b.logical_bytes_host_to_device;
        a.replayed_passes -= b.replayed_passes;
        a.unused_prefetches -= b.unused_prefetches;
        return a;
    }
};

struct memory_stats {
    std::size_t resident_bytes = 0;   // device bytes holding resident layers
    std::size_t staging_bytes = 0;    // device bytes of the staging ring
    std::size_t pinned_host_bytes = 0;
    std::size_t pageable_host_bytes = 0;  // host bytes streamed from unpinned memory (a fallback)
    // register_caller only: of pinned_host_bytes, what offloaders page-locked
    // (shared between offloaders over the same memory) and what was already
    // page-locked by someone else (used, never unlocked).
    std::size_t registered_host_bytes = 0;
    std::size_t already_locked_host_bytes = 0;

    friend bool operator==(memory_stats const&, memory_stats const&) = default;
};

// One buffer a lossy or lossless codec encoded.
struct codec_buffer_stats {
    std::size_t layer = 0;
    std::size_t buffer = 0;
    std::string name;
    std::string format;
    std::size_t logical_bytes = 0;
    std::size_t encoded_bytes = 0;
    std::optional<double> relative_l2_error;  // lossy codecs only, measured at encode time

    friend bool operator==(codec_buffer_stats const&, codec_buffer_stats const&) = default;
};

struct stats {
    std::string backend;
    std::string profiler;
    bool profiler_measures_time = false;  // false: no timing field ever appears (profile::none, nvtx)
    std::string residency;
    std::string prefetch;
    std::string codec = "none";
    std::size_t staging_slots = 0;
    std::string preset;
    std::size_t num_layers_on_gpu = 0;
    std::size_t gpu_memory_budget = 0;
    bool pin_memory_requested = false;
    bool pin_memory_effective = false;
    std::string host_memory;
    std::vector<std::size_t> resident_layers;
    std::vector<std::size_t> streamed_layers;
    std::string placement_reason;
    std::vector<std::string> warnings;
    counters counts;
    memory_stats memory;
    std::optional<timing_stats> timing;
    std::vector<layer_stats> layers;
    std::vector<codec_buffer_stats> codec_buffers;  // empty with codec::none

    friend bool operator==(stats const&, stats const&) = default;
};

namespace detail {
template <class T>
void put_optional(boost::json::object& o, char const* key, std::optional<T> const& v) {
    if (v) o[key] = *v;
}
template <class T>
std::optional<T> get_optional(boost::json::object const& o, char const* key) {
    if (auto const* v = o.if_contains(key)) return boost::json::value_to<T>(*v);
    return std::nullopt;
}
template <class T>
T get(boost::json::object const& o, char const* key) {
    return boost::json::value_to<T>(o.at(key));
}

// The counters and memory objects, shared with the merged stats of several
// offloaders (offload/multi/merged_stats.hpp).
inline boost::json::object counters_json(counters const& c) {
    return {{"passes", c.passes},
            {"aborted_passes", c.aborted_passes},
            {"layer_computes", c.layer_computes},
            {"layer_loads", c.layer_loads},
            {"bytes_host_to_device", c.bytes_host_to_device},
            {"bytes_device_to_host", c.bytes_device_to_host},
            {"logical_bytes_host_to_device", c.logical_bytes_host_to_device},
            {"replayed_passes", c.replayed_passes},
            {"unused_prefetches", c.unused_prefetches}};
}
inline counters counters_from(boost::json::object const& c) {
    return {get<std::size_t>(c, "passes"),      get<std::size_t>(c, "aborted_passes"),
            get<std::size_t>(c, "layer_computes"), get<std::size_t>(c, "layer_loads"),
            get<std::size_t>(c, "bytes_host_to_device"), get<std::size_t>(c, "bytes_device_to_host"),
            get<std::size_t>(c, "logical_bytes_host_to_device"), get<std::size_t>(c, "replayed_passes"),
            get<std::size_t>(c, "unused_prefetches")};
}
inline boost::json::object memory_json(memory_stats const& m) {
    return {{"resident_bytes", m.resident_bytes},
            {"staging_bytes", m.staging_bytes},
            {"pinned_host_bytes", m.pinned_host_bytes},
            {"pageable_host_bytes", m.pageable_host_bytes},
            {"registered_host_bytes", m.registered_host_bytes},
            {"already_locked_host_bytes", m.already_locked_host_bytes}};
}
inline memory_stats memory_from(boost::json::object const& m) {
    return {get<std::size_t>(m, "resident_bytes"), get<std::size_t>(m, "staging_bytes"),
            get<std::size_t>(m, "pinned_host_bytes"), get<std::size_t>(m, "pageable_host_bytes"),
            get<std::size_t>(m, "registered_host_bytes"), get<std::size_t>(m, "already_locked_host_bytes")};
}

inline boost::json::object pass_wall_json(pass_wall_stats const& w) {
    return {{"count", w.count}, {"total", w.total_ms}, {"min", w.min_ms},
            {"median", w.median_ms}, {"max", w.max_ms}, {"last", w.last_ms}};
}
inline pass_wall_stats pass_wall_from(boost::json::object const& w) {
    return {get<std::size_t>(w, "count"), get<double>(w, "total"), get<double>(w, "min"),
            get<double>(w, "median"), get<double>(w, "max"), get<double>(w, "last")};
}
}  // namespace detail

inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, layer_stats const& l) {
    boost::json::object o{{"index", l.index},     {"resident", l.resident}, {"bytes", l.bytes},
                          {"moved_bytes", l.moved_bytes}, {"loads", l.loads}, {"samples", l.samples}};
    detail::put_optional(o, "compute_ms", l.compute_ms);
    detail::put_optional(o, "transfer_ms", l.transfer_ms);
    detail::put_optional(o, "stall_ms", l.stall_ms);
    detail::put_optional(o, "release_ms", l.release_ms);
    detail::put_optional(o, "decode_ms", l.decode_ms);
    jv = std::move(o);
}
inline layer_stats tag_invoke(boost::json::value_to_tag<layer_stats>, boost::json::value const& jv) {
    auto const& o = jv.as_object();
    layer_stats l;
    l.index = detail::get<std::size_t>(o, "index");
    l.resident = detail::get<bool>(o, "resident");
    l.bytes = detail::get<std::size_t>(o, "bytes");
    l.loads = detail::get<std::size_t>(o, "loads");
    l.moved_bytes = detail::get<std::size_t>(o, "moved_bytes");
    l.samples = detail::get<std::size_t>(o, "samples");
    l.compute_ms = detail::get_optional<double>(o, "compute_ms");
    l.transfer_ms = detail::get_optional<double>(o, "transfer_ms");
    l.stall_ms = detail::get_optional<double>(o, "stall_ms");
    l.release_ms = detail::get_optional<double>(o, "release_ms");
    l.decode_ms = detail::get_optional<double>(o, "decode_ms");
    return l;
}

inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, stats const& s) {
    boost::json::object o;
    o["profiler"] = s.profiler;
    o["profiler_measures_time"] = s.profiler_measures_time;
    o["backend"] = s.backend;
    o["policies"] = {{"residency", s.residency}, {"prefetch", s.prefetch}, {"codec", s.codec},
                     {"staging_slots", s.staging_slots}};
    o["config"] = {{"preset", s.preset},
                   {"num_layers_on_gpu", s.num_layers_on_gpu},
                   {"gpu_memory_budget", s.gpu_memory_budget},
                   {"pin_memory", {{"requested", s.pin_memory_requested}, {"effective", s.pin_memory_effective}}},
                   {"host_memory", s.host_memory}};
    o["placement"] = {{"resident_layers", boost::json::value_from(s.resident_layers)},
                      {"streamed_layers", boost::json::value_from(s.streamed_layers)},
                      {"reason", s.placement_reason}};
    o["warnings"] = boost::json::value_from(s.warnings);
    o["counters"] = detail::counters_json(s.counts);
    o["memory"] = detail::memory_json(s.memory);
    if (s.timing) {
        auto const& t = *s.timing;
        boost::json::object breakdown{{"pure_computation_ms", t.pure_computation_ms}};
        detail::put_optional(breakdown, "cpu_to_gpu_transfer_ms", t.cpu_to_gpu_transfer_ms);
        detail::put_optional(breakdown, "gpu_to_cpu_release_ms", t.gpu_to_cpu_release_ms);
        o["time_breakdown"] = std::move(breakdown);
        detail::put_optional(o, "transfer_overhead_ms", t.transfer_overhead_ms);
        detail::put_optional(o, "avg_layer_transfer_ms", t.avg_layer_transfer_ms);
        o["theoretical_async_savings_ms"] = t.theoretical_async_savings_ms;
        o["achieved_async_savings_ms"] = t.achieved_async_savings_ms;
        detail::put_optional(o, "overlap_efficiency", t.overlap_efficiency);
        detail::put_optional(o, "h2d_GBps", t.h2d_gb_per_s);
        detail::put_optional(o, "effective_h2d_GBps", t.effective_h2d_gb_per_s);
        detail::put_optional(o, "decode_ms", t.decode_ms);
        o["pass_wall_ms"] = detail::pass_wall_json(t.pass_wall);
    }
    o["layers"] = boost::json::value_from(s.layers);
    if (!s.codec_buffers.empty()) {
        boost::json::array buffers;
        for (auto const& b : s.codec_buffers) {
            boost::json::object e{{"layer", b.layer},         {"buffer", b.buffer},
                                  {"name", b.name},           {"format", b.format},
                                  {"logical_bytes", b.logical_bytes}, {"encoded_bytes", b.encoded_bytes}};
            detail::put_optional(e, "relative_l2_error", b.relative_l2_error);
            buffers.push_back(std::move(e));
        }
        o["codec_buffers"] = std::move(buffers);
    }
    jv = std::move(o);
}

inline stats tag_invoke(boost::json::value_to_tag<stats>, boost::json::value const& jv) {
    using detail::get;
    auto const& o = jv.as_object();
    stats s;
    s.profiler = get<std::string>(o, "profiler");
    s.profiler_measures_time = get<bool>(o, "profiler_measures_time");
    s.backend = get<std::string>(o, "backend");
    auto const& policies = o.at("policies").as_object();
    s.residency = get<std::string>(policies, "residency");
    s.prefetch = get<std::string>(policies, "prefetch");
    s.codec = get<std::string>(policies, "codec");
    s.staging_slots = get<std::size_t>(policies, "staging_slots");
    auto const& cfg = o.at("config").as_object();
    s.preset = get<std::string>(cfg, "preset");
    s.num_layers_on_gpu = get<std::size_t>(cfg, "num_layers_on_gpu");
    s.gpu_memory_budget = get<std::size_t>(cfg, "gpu_memory_budget");
    s.pin_memory_requested = get<bool>(cfg.at("pin_memory").as_object(), "requested");
    s.pin_memory_effective = get<bool>(cfg.at("pin_memory").as_object(), "effective");
    s.host_memory = get<std::string>(cfg, "host_memory");
    auto const& placement = o.at("placement").as_object();
    s.resident_layers = get<std::vector<std::size_t>>(placement, "resident_layers");
    s.streamed_layers = get<std::vector<std::size_t>>(placement, "streamed_layers");
    s.placement_reason = get<std::string>(placement, "reason");
    s.warnings = get<std::vector<std::string>>(o, "warnings");
    s.counts = detail::counters_from(o.at("counters").as_object());
    s.memory = detail::memory_from(o.at("memory").as_object());
    if (auto const* b = o.if_contains("time_breakdown")) {
        auto const& bo = b->as_object();
        timing_stats t;
        t.cpu_to_gpu_transfer_ms = detail::get_optional<double>(bo, "cpu_to_gpu_transfer_ms");
        t.pure_computation_ms = get<double>(bo, "pure_computation_ms");
        t.gpu_to_cpu_release_ms = detail::get_optional<double>(bo, "gpu_to_cpu_release_ms");
        t.transfer_overhead_ms = detail::get_optional<double>(o, "transfer_overhead_ms");
        t.avg_layer_transfer_ms = detail::get_optional<double>(o, "avg_layer_transfer_ms");
        t.theoretical_async_savings_ms = get<double>(o, "theoretical_async_savings_ms");
        t.achieved_async_savings_ms = get<double>(o, "achieved_async_savings_ms");
        t.overlap_efficiency = detail::get_optional<double>(o, "overlap_efficiency");
        t.h2d_gb_per_s = detail::get_optional<double>(o, "h2d_GBps");
        t.effective_h2d_gb_per_s = detail::get_optional<double>(o, "effective_h2d_GBps");
        t.decode_ms = detail::get_optional<double>(o, "decode_ms");
        t.pass_wall = detail::pass_wall_from(o.at("pass_wall_ms").as_object());
        s.timing = t;
    }
    s.layers = get<std::vector<layer_stats>>(o, "layers");
    if (auto const* cb = o.if_contains("codec_buffers"))
        for (auto const& v : cb->as_array()) {
            auto const& e = v.as_object();
            s.codec_buffers.push_back({get<std::size_t>(e, "layer"), get<std::size_t>(e, "buffer"),
                                       get<std::string>(e, "name"), get<std::string>(e, "format"),
                                       get<std::size_t>(e, "logical_bytes"), get<std::size_t>(e, "encoded_bytes"),
                                       detail::get_optional<double>(e, "relative_l2_error")});
        }
    return s;
}

}  // namespace offload
