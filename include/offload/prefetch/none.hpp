#pragma once
#include <cstddef>

#include <offload/prefetch/concept.hpp>

namespace offload::prefetch {

// Copy, wait, compute: the serial baseline that the others are measured against.
struct none {
    using policy_kind = offload::policy_kind::prefetch;
    static constexpr char const* name = "none";
    static constexpr std::size_t slots = 1;
    static constexpr bool run_ahead = false;
};

static_assert(prefetch_policy<none>);

}  // namespace offload::prefetch
