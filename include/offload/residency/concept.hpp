#pragma once
#include <concepts>
#include <string_view>

#include <offload/policy_kind.hpp>
#include <offload/residency/placement.hpp>

namespace offload {

// A residency policy decides which layers stay on the device.
template <class R>
concept residency_policy = detail::announces<R, policy_kind::residency> &&
                           requires(residency::placement_request const& request) {
                               { R::name } -> std::convertible_to<std::string_view>;
                               { R::place(request) } -> std::same_as<residency::placement>;
                           };

}  // namespace offload
