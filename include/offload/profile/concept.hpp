#pragma once
// A profiler policy names a recorder template; the offloader calls the
// recorder's hooks at each step of a pass. A recorder that measures nothing is
// an empty class whose hooks compile to nothing.
#include <concepts>
#include <cstddef>
#include <string_view>

#include <offload/backend/concept.hpp>
#include <offload/policy_kind.hpp>
#include <offload/stats.hpp>

namespace offload {

template <class Recorder, class Backend>
concept profile_recorder =
    requires(Recorder& r, std::size_t layer, typename Backend::stream_type s, stats& out) {
        { Recorder::measures_time } -> std::convertible_to<bool>;
        r.pass_begin(s);
        r.copy_begin(layer, s);
        r.copy_end(layer, std::size_t{}, s);
        r.wait_begin(layer, s);
        r.decode_begin(layer, s);
        r.decode_end(layer, s);
        r.compute_begin(layer, s);
        r.compute_end(layer, s);
        r.release_begin(layer, s);
        r.release_end(layer, std::size_t{}, s);
        r.pass_end(s);
        { r.pass_abort() } noexcept;
        r.fill(out);
        r.reset();
    };

template <class P>
concept profiler_policy = detail::announces<P, policy_kind::profiler> && requires {
    { P::name } -> std::convertible_to<std::string_view>;
    typename P::template recorder<struct profiler_probe_backend>;
};

}  // namespace offload
