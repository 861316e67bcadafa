#pragma once
#include <concepts>
#include <cstddef>
#include <string_view>

#include <offload/policy_kind.hpp>

namespace offload {

// A prefetch policy sets the ring of staging slots and whether the copy stream
// runs ahead of compute. With run_ahead, the copies of the first `slots`
// streamed layers are issued when a pass starts (behind resident layers' compute)
// and a slot is refilled once the compute that read it is done. Without it, a
// layer's copy is issued when the layer is reached and compute waits for it.
// A policy with zero slots is refused when an offloader with streamed layers
// is built (lookahead<0> already fails to compile).
template <class P>
concept prefetch_policy = detail::announces<P, policy_kind::prefetch> && requires {
    { P::name } -> std::convertible_to<std::string_view>;
    { P::slots } -> std::convertible_to<std::size_t>;
    { P::run_ahead } -> std::convertible_to<bool>;
};

}  // namespace offload
