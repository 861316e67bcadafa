#pragma once
// The dispatcher: run-time policy names -> compiled layer_offloader
// instantiations. A fold over type lists picks each policy by its command-line
// name; nested generic lambdas carry the choices inward, so one call of run<>
// is instantiated per combination. Included by ffn_run_host.cpp and
// ffn_run_cuda.cpp, each with its backend_traits specialisation.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/budget.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

#include "ffn_run.hpp"

namespace ffn::cli::detail {

// Per backend: its options, its FFN stack, the device's name. Specialised in
// each backend's translation unit.
template <class Backend>
struct backend_traits;

template <class... Ts>
struct type_list {};
template <class T>
struct tag {
    using type = T;
};

// The compiled combinations: each backend x 3 residencies x 5 prefetch depths
// x 2 profilers (30 per backend). --prefetch next is lookahead:2, as
// offload::prefetch::next_layer is lookahead<2>.
using residencies = type_list<offload::residency::first_n, offload::residency::interleaved, offload::residency::budget>;
using prefetches = type_list<offload::prefetch::none, offload::prefetch::lookahead<1>, offload::prefetch::lookahead<2>,
                             offload::prefetch::lookahead<4>, offload::prefetch::lookahead<8>>;
using profilers = type_list<offload::profile::events, offload::profile::none>;

// The name a policy answers to on the command line.
template <class T>
std::string cli_name() {
    if constexpr (std::is_same_v<typename T::policy_kind, offload::policy_kind::prefetch>) {
        if constexpr (T::run_ahead) return "lookahead:" + std::to_string(T::slots);
    }
    return T::name;
}

// Calls f(tag<T>{}) for the T of the list named `wanted`; false when none is (or f says so).
template <class... Ts, class F>
bool pick(type_list<Ts...>, std::string const& wanted, F&& f) {
    return ((cli_name<Ts>() == wanted && f(tag<Ts>{})) || ...);
}

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
run_result dispatch(run_request const& q, offload::model const& m) {
    std::optional<run_result> result;
    bool const found = pick(residencies{}, q.residency, [&](auto r) {
        return pick(prefetches{}, q.prefetch, [&](auto p) {
            return pick(profilers{}, q.profiler, [&](auto f) {
                result.emplace(run<Backend, typename decltype(r)::type, typename decltype(p)::type,
                                   typename decltype(f)::type>(q, m));
                return true;
            });
        });
    });
    if (!found)
        throw offload::configuration_error(std::string("offload-ffn: backend ") + Backend::name + " with residency " +
                                           q.residency + ", prefetch " + q.prefetch + ", profiler " + q.profiler +
                                           " is not compiled into this binary");
    return std::move(*result);
}

}  // namespace ffn::cli::detail
