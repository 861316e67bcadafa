#pragma once
// Each policy type announces its kind (`using policy_kind = policy_kind::X;`),
// so that a concept can tell a residency policy from a prefetch policy and a
// wrong template argument fails with one message that names what was expected.
#include <concepts>

namespace offload::policy_kind {
struct backend {};
struct residency {};
struct prefetch {};
struct profiler {};
struct codec {};
}  // namespace offload::policy_kind

namespace offload::detail {
template <class T, class Kind>
concept announces = requires { typename T::policy_kind; } &&
                    std::same_as<typename T::policy_kind, Kind>;
}  // namespace offload::detail
