#pragma once
// Run-time knobs and the presets that existing front ends know by name.
#include <cstddef>
#include <iosfwd>
#include <string>

namespace offload {

// How the library gets host memory that a copy engine can read directly.
enum class host_memory {
    copy_to_pinned,   // the library allocates pinned memory and copies the caller's weights in
    register_caller,  // the caller's memory is page-locked in place (cudaHostRegister)
};

struct config {
    // Used by residency::first_n and residency::interleaved.
    std::size_t num_layers_on_gpu = 20;
    // Used by residency::budget: device bytes the offloader may take for resident
    // layers and staging slots; 0 means "free device memory less reserve_bytes".
    std::size_t gpu_memory_budget = 0;
    std::size_t reserve_bytes = std::size_t{1} << 30;
    // Ask for page-locked host memory; if the system refuses, the run falls back to
    // pageable memory and the stats say so.
    bool pin_memory = true;
    host_memory host_memory_mode = host_memory::copy_to_pinned;
    // The last layers of a pass issue the copies of the next pass's first
    // streamed layers, so that the copy engine works on through the end of a
    // pass and whatever the host does before the next. The host bytes of those
    // layers are then read before the next pass() call: turn this off to
    // change streamed weights between passes.
    bool prefetch_across_passes = true;
    // Print a profiling summary every this many passes; 0 turns it off. The
    // summary reads the stats, so the host waits for that pass to finish.
    std::size_t summary_every = 0;
    // Where the summary goes; nullptr means std::clog.
    std::ostream* summary_stream = nullptr;
    // Name written to the stats so that a front end can tell runs apart.
    std::string preset = "default";
};

namespace presets {

inline config manual(std::size_t layers_on_gpu) {
    config c;
    c.num_layers_on_gpu = layers_on_gpu;
    c.preset = "manual";
    return c;
}
inline config named(std::size_t layers_on_gpu, char const* name) {
    config c = manual(layers_on_gpu);
    c.preset = name;
    return c;
}
inline config const balanced = named(12, "balanced");
inline config const aggressive = named(8, "aggressive");
inline config const extreme = named(4, "extreme");
inline config const default_preset = config{};

}  // namespace presets
}  // namespace offload
