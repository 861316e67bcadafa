#pragma once
// A Chrome / Perfetto trace of the passes a timing profiler measured: one
// track per stream (copy, compute, write-back) and one for the host, a span
// for every copy, wait, compute and write-back, named by layer. Device
// timestamps are event times relative to one reference event; host spans are
// steady_clock times relative to the moment that event was recorded.
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <offload/errors.hpp>

namespace offload::profile {

enum class trace_track : int { host = 1, copy = 2, compute = 3, writeback = 4 };

struct trace_span {
    std::string name;
    trace_track track;
    double start_us;
    double duration_us;
    std::size_t layer;     // layer index, or npos for a pass
    std::size_t pass;
    std::size_t bytes;     // bytes moved, for copies and write-backs
};

class trace_log {
public:
    // Opens the file now, so that a path that cannot be written fails before
    // the run rather than after it.
    explicit trace_log(std::filesystem::path path) : path_(std::move(path)), out_(path_, std::ios::trunc) {
        if (!out_)
            throw configuration_error("offload: cannot write the trace to " + path_.string() + ": " +
                                      std::strerror(errno));
    }

    void add(trace_span span) { spans_.push_back(std::move(span)); }
    std::vector<trace_span> const& spans() const noexcept { return spans_; }

    // Writes the whole trace (again) and flushes it.
    void write() {
        boost::json::array events;
        for (auto [track, name] : {std::pair{trace_track::host, "host"}, std::pair{trace_track::copy, "copy stream"},
                                   std::pair{trace_track::compute, "compute stream"},
                                   std::pair{trace_track::writeback, "write-back stream"}})
            events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", static_cast<int>(track)},
                              {"args", {{"name", name}}}});
        events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", "offload"}}}});
        for (auto const& s : spans_) {
            boost::json::object args{{"pass", s.pass}};
            if (s.layer != static_cast<std::size_t>(-1)) args["layer"] = s.layer;
            if (s.bytes != 0) args["bytes"] = s.bytes;
            events.push_back({{"name", s.name},
                              {"ph", "X"},
                              {"pid", 1},
                              {"tid", static_cast<int>(s.track)},
                              {"ts", s.start_us},
                              {"dur", s.duration_us},
                              {"args", std::move(args)}});
        }
        out_.seekp(0);
        out_ << boost::json::serialize(boost::json::object{{"traceEvents", std::move(events)},
                                                           {"displayTimeUnit", "ms"}});
        out_.flush();
        if (!out_) throw error("offload: writing the trace to " + path_.string() + " failed");
    }

private:
    std::filesystem::path path_;
    std::ofstream out_;
    std::vector<trace_span> spans_;
};

// A recorder that can write a trace.
template <class Recorder>
concept tracing_recorder = requires(Recorder& r, std::filesystem::path const& path) {
    r.trace_to(path);
    { r.trace() } -> std::same_as<trace_log*>;
};

}  // namespace offload::profile
