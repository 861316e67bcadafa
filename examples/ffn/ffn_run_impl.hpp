#pragma once
// The run of one policy combination, and the dispatch from the run-time
// policy names to it (offload_examples::dispatch over ffn_policies.hpp's
// lists: one run<> per combination), with the measurements of the run's
// floor around it. Included by ffn_run_host.cpp and ffn_run_cuda.cpp, each
// with its backend_traits specialisation.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>

#include <offload_examples/dispatch.hpp>
#include <offload_examples/h2d_bandwidth.hpp>
#include <offload_examples/pass_floor.hpp>

#include "ffn_policies.hpp"
#include "ffn_run.hpp"

namespace ffn::cli::detail {

// Per backend: its options, its FFN stack, the device's name, the stack's
// output as floats, and the size of the copy that measures the H2D rate.
// Specialised in each backend's translation unit.
template <class Backend>
struct backend_traits;

// --decode-loop: the host waits for the pass and copies one output value
// back, as a sampler reads the token it drew, before it starts the next pass.
template <class Backend, class Stack>
void read_back_one_value(Backend& b, Stack const& stack) {
    typename backend_traits<Backend>::element value;
    b.copy_to_host(&value, stack.activations(), sizeof value, b.compute_stream());
    b.synchronize(b.compute_stream());
}

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
    auto layer_compute = [&](auto const& layer) {
        stack.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
    };
    auto run_passes = [&](auto&& one_pass) {
        // One step of the loop of passes, as the mode says: a new mode is a case here.
        auto step = [&] {
            stack.set_input(q.seed);
            one_pass();
            switch (q.mode) {
                case pass_mode::back_to_back: return;
                case pass_mode::decode_loop: read_back_one_value(off.backend(), stack); return;
            }
        };
        for (std::size_t p = 0; p < q.warmup; ++p) step();
        if (q.warmup > 0) {
            off.synchronize();
            off.reset_statistics();
        }
        auto const start = std::chrono::steady_clock::now();
        for (std::size_t p = 0; p < q.passes; ++p) step();
        r.checksum = stack.checksum();  // waits for the last pass
        // And for the copies it issued for a next pass: the copies the warm-up
        // issued for the first timed pass ran before the clock started.
        off.synchronize();
        r.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    };
    if (!q.graph) {
        run_passes([&] { off.run_pass(layer_compute); });
    } else if constexpr (offload::capturing_backend<Backend>) {
        auto graph = off.capture(layer_compute);
        run_passes([&] { graph.replay(); });
    } else {
        throw offload::configuration_error("offload-ffn: --graph needs --backend cuda");
    }
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

// The H2D rate, on a backend of its own made before the run's, so that the
// copy has the link and the device memory to itself.
template <class Backend>
offload_examples::h2d_bandwidth measure_h2d(run_request const& q) {
    using traits = backend_traits<Backend>;
    Backend b(traits::backend_options(q));
    return offload_examples::measure_h2d_bandwidth(b, traits::h2d_copy_bytes, 5);
}

// The all-resident run of the compute floor: the same stack, seed and mode,
// every layer resident (codec none: resident layers are never encoded), timed
// with profile::events whatever the run's profiler, one warm-up pass and five
// timed ones.
template <class Backend>
offload::stats run_all_resident(run_request const& q, offload::model const& m) {
    run_request resident = q;
    resident.cfg = offload_examples::all_resident(q.cfg, q.layers);
    resident.passes = 5;
    resident.warmup = 1;
    resident.trace_path.reset();
    resident.keep_output = false;
    return run<Backend, offload::residency::first_n, offload::prefetch::lookahead<4>, offload::profile::events,
               offload::codec::none>(resident, m)
        .stats;
}

template <class Backend>
run_result run_with(run_request const& q, offload::model const& m) {
    auto one_run = [&m](run_request const& r) {
        return ox::dispatch<policies>(r.policies, [&]<class Residency, class Prefetch, class Profiler, class Codec>() {
            return run<Backend, Residency, Prefetch, Profiler, Codec>(r, m);
        });
    };
    auto const bandwidth = measure_h2d<Backend>(q);
    auto with_floor = [&](run_result r) {
        r.floor.bandwidth = bandwidth;
        r.floor.streamed_bytes = offload_examples::streamed_bytes_per_pass(r.stats);
        offload_examples::measure_compute_floor(r.floor, [&] { return run_all_resident<Backend>(q, m); });
        return r;
    };
    if (q.policies.codec == "none") return with_floor(one_run(q));
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
    return with_floor(std::move(r));
}

}  // namespace ffn::cli::detail
