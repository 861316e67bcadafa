#pragma once
// One policy combination's run, and the dispatch from the run-time policy
// names to it. Included by llama_run_host.cpp and llama_run_cuda.cpp, each
// with its backend_traits specialisation (backend options, engine, device name).
#include <filesystem>

#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>

#include <offload_examples/dispatch.hpp>

#include "llama_policies.hpp"
#include "llama_run.hpp"

namespace llama::cli::detail {

template <class Backend>
struct backend_traits;

template <class Backend, class Residency, class Prefetch, class Profiler>
run_result run(checkpoint_model const& m, run_request const& q) {
    using traits = backend_traits<Backend>;
    offload::layer_offloader<Backend, Residency, Prefetch, Profiler> off(m.model(), q.cfg, traits::backend_options(m));
    if (q.trace_path) {
        if constexpr (requires { off.trace_to(std::filesystem::path{}); })
            off.trace_to(*q.trace_path);  // written when off is destroyed
        else
            throw offload::configuration_error("offload-llama: --trace needs --profiler events");
    }
    // Declared after off: destroyed first, while the offloader's streams live.
    auto engine = traits::make_engine(m, positions_needed(q.generation), off.backend());
    run_result r;
    r.device = traits::device_name(off.backend());
    r.compute_dtype = traits::compute_dtype;
    r.generation = generate(off, engine, q.generation);
    r.stats = off.statistics();
    return r;
}

template <class Backend>
run_result run_with(checkpoint_model const& m, run_request const& q) {
    return offload_examples::dispatch<policies>(q.policies, [&]<class Residency, class Prefetch, class Profiler>() {
        return run<Backend, Residency, Prefetch, Profiler>(m, q);
    });
}

}  // namespace llama::cli::detail
