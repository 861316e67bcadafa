#pragma once
#include <cstddef>

#include <offload/prefetch/concept.hpp>

namespace offload::prefetch {

// A ring of N staging slots: up to N streamed layers are in flight or waiting
// ahead of the layer being computed.
template <std::size_t N>
struct lookahead {
    static_assert(N > 0, "offload::prefetch::lookahead<N>: N is the number of staging slots and must be at least 1");
    using policy_kind = offload::policy_kind::prefetch;
    static constexpr char const* name = "lookahead";
    static constexpr std::size_t slots = N;
    static constexpr bool run_ahead = true;
};

// The next streamed layer is copied while the current one computes: one slot
// being read, one being filled. (lookahead<1> overlaps a copy only with the
// compute of resident layers, since its one slot is busy while it is read.)
using next_layer = lookahead<2>;

}  // namespace offload::prefetch
