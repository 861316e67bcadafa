#pragma once
// The run of one policy combination, and the dispatch from the run-time
// policy names to it (offload_examples::dispatch over ffn_policies.hpp's
// lists: one run<> per combination). Included by ffn_run_host.cpp and
// ffn_run_cuda.cpp, each with its backend_traits specialisation.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>

#include <offload_examples/dispatch.hpp>

#include "ffn_policies.hpp"
#include "ffn_run.hpp"

namespace ffn::cli::detail {

// Per backend: its options, its FFN stack, the device's name, the stack's
// output as floats. Specialised in each backend's translation unit.
template <class Backend>
struct backend_traits;

// The one function each combination instantiates.
template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
run_result run(run_request const& q, offload::model const& m) {
    using traits = backend_traits<Backend>;
    offload::layer_offloader<Backend, Residency, Prefetch, Profiler, Codec> off(m, q.cfg, traits::backend_options(q));
    if (q.trace_path) {
        if constexpr (requires { off.trace_to(std::filesystem::path{}); })
            off.trace_to(*q.trace_path);  // written when off is destroyed
        else
            throw offload::configuration_error("offload-ffn: --trace needs --profiler events");
    }
    run_result r;
    r.device = traits::device_name(off.backend());
    r.dtype = traits::dtype;
    auto stack = traits::make_stack(q, off.backend());
    auto one_pass = [&] {
        stack.set_input(q.seed);
        for (auto layer : off.pass()) stack.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
    };
    for (std::size_t p = 0; p < q.warmup; ++p) one_pass();
    if (q.warmup > 0) {
        off.synchronize();
        off.reset_statistics();
    }
    auto const start = std::chrono::steady_clock::now();
    for (std::size_t p = 0; p < q.passes; ++p) one_pass();
    r.checksum = stack.checksum();  // waits for the last pass
    r.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    r.stats = off.statistics();
    if (q.keep_output) r.output = traits::output(stack);
    return r;
}

// ||y - reference|| / ||reference||, in double; NaN where the reference is all zeros.
inline double relative_l2(std::vector<float> const& y, std::vector<float> const& reference) {
    if (y.size() != reference.size())
        throw offload::configuration_error("offload-ffn: outputs of " + std::to_string(y.size()) + " and " +
                                           std::to_string(reference.size()) + " values cannot be compared");
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        double const d = static_cast<double>(y[i]) - static_cast<double>(reference[i]);
        diff += d * d;
        norm += static_cast<double>(reference[i]) * reference[i];
    }
    return norm > 0 ? std::sqrt(diff) / std::sqrt(norm) : std::numeric_limits<double>::quiet_NaN();
}

template <class Backend>
run_result run_with(run_request const& q, offload::model const& m) {
    auto one_run = [&m](run_request const& r) {
        return ox::dispatch<policies>(r.policies, [&]<class Residency, class Prefetch, class Profiler, class Codec>() {
            return run<Backend, Residency, Prefetch, Profiler, Codec>(r, m);
        });
    };
    if (q.policies.codec == "none") return one_run(q);
    // With a codec: the run asked for, then the same stack, seed and backend
    // without a codec for one pass (the first offloader is gone by then, so
    // the two never hold device memory at once). Each pass starts from the
    // seed's input, so the last pass of either gives the same activations
    // but for the codec's error.
    run_request coded = q;
    coded.keep_output = true;
    run_result r = one_run(coded);
    run_request plain = coded;
    plain.policies.codec = "none";
    plain.passes = 1;
    plain.warmup = 0;
    plain.trace_path.reset();
    plain.cfg.summary_every = 0;
    run_result const reference = one_run(plain);
    r.codec_output_relative_l2 = relative_l2(r.output, reference.output);
    if (!q.keep_output) r.output.clear();
    return r;
}

}  // namespace ffn::cli::detail
