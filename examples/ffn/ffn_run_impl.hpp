#pragma once
// The run of one policy combination, and the dispatch from the run-time
// policy names to it (offload_examples::dispatch over ffn_policies.hpp's
// lists: one run<> per combination). Included by ffn_run_host.cpp and
// ffn_run_cuda.cpp, each with its backend_traits specialisation.
#include <chrono>
#include <filesystem>
#include <string>

#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>

#include <offload_examples/dispatch.hpp>

#include "ffn_policies.hpp"
#include "ffn_run.hpp"

namespace ffn::cli::detail {

// Per backend: its options, its FFN stack, the device's name. Specialised in
// each backend's translation unit.
template <class Backend>
struct backend_traits;

// The one function each combination instantiates.
template <class Backend, class Residency, class Prefetch, class Profiler>
run_result run(run_request const& q, offload::model const& m) {
    using traits = backend_traits<Backend>;
    offload::layer_offloader<Backend, Residency, Prefetch, Profiler> off(m, q.cfg, traits::backend_options(q));
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
    return r;
}

template <class Backend>
run_result run_with(run_request const& q, offload::model const& m) {
    return ox::dispatch<policies>(q.policies, [&]<class Residency, class Prefetch, class Profiler>() {
        return run<Backend, Residency, Prefetch, Profiler>(q, m);
    });
}

}  // namespace ffn::cli::detail
