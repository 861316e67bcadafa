#pragma once
// offload-ffn's run step, split from the CLI so that the policy instantiations
// of each backend compile in their own translation unit (ffn_run_host.cpp,
// ffn_run_cuda.cpp) and in parallel: 38 layer_offloader instantiations each
// (ffn_policies.hpp).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <offload/config.hpp>
#include <offload/model.hpp>
#include <offload/stats.hpp>

#include <offload_examples/pass_floor.hpp>
#include <offload_examples/policy_lists.hpp>

#include "ffn_dims.hpp"

namespace ffn::cli {

// How one pass follows the next; run<> (ffn_run_impl.hpp) turns each into the
// step of its loop of passes.
enum class pass_mode {
    back_to_back,  // each pass is enqueued as soon as the previous one is: the host never waits between passes
    decode_loop,   // after each pass the host waits and reads one output value back, as a sampler reads its token
};

inline char const* pass_mode_name(pass_mode m) {
    switch (m) {
        case pass_mode::back_to_back: return "back-to-back";
        case pass_mode::decode_loop: return "decode-loop";
    }
    return "unknown";
}

// One run, as the command line asked for it (names already checked).
struct run_request {
    dims d;
    std::size_t layers = 32;
    std::size_t passes = 10;
    std::size_t warmup = 0;  // passes run first and then left out of the stats
    std::uint64_t seed = 1;
    pass_mode mode = pass_mode::back_to_back;
    bool graph = false;  // capture one pass as a CUDA graph, then replay it for every pass
    offload_examples::policy_names policies;  // of ffn_policies.hpp's lists
    offload::config cfg;
    std::optional<std::string> trace_path;  // a Chrome/Perfetto trace of the passes, with profile::events
    std::size_t host_device_capacity = std::size_t{1} << 30;  // the host backend's simulated device
    bool keep_output = false;  // return the last pass's activations in run_result::output
};

struct run_result {
    offload::stats stats;
    double checksum = 0;  // sum of the last pass's output activations
    double wall_ms = 0;   // host clock around the timed passes, to the end of the last one on the device
    std::string device;   // the GPU's name, or "cpu"
    std::string dtype;    // of weights and activations: "bfloat16" (cuda) or "float32" (host)
    std::vector<float> output;  // x [batch][hidden] after the last pass, with run_request::keep_output
    // With a codec other than none: ||y_codec - y_none|| / ||y_none|| over the
    // last pass's activations, y_none from one pass of the same stack, seed and
    // backend without a codec.
    std::optional<double> codec_output_relative_l2;
    // The floor of this run's passes, measured in this process: the pinned H2D
    // rate before the run, the all-resident stack's passes after it.
    offload_examples::pass_floor floor;
};

// Measures the pinned H2D rate; builds a layer_offloader with the requested
// policies over m (float32 weights for host, bf16 for cuda), runs warmup +
// passes passes of the stack and returns its stats; with a codec other than
// none, then one pass without a codec, for codec_output_relative_l2; then the
// same stack all-resident, for the compute floor. Throws offload::configuration_error for a policy
// combination that is not compiled in, and whatever the library throws.
run_result run_on_host(run_request const& r, offload::model const& m);
#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
run_result run_on_cuda(run_request const& r, offload::model const& m);
#endif

}  // namespace ffn::cli
