#pragma once
// The residency x prefetch pairs that typed tests run over, on either backend.
#include <string>

#include <gtest/gtest.h>

#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/residency/budget.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

namespace offload::testing {

template <class R, class P>
struct policy_pair {
    using residency = R;
    using prefetch = P;
};

using first_n_and_interleaved_pairs =
    ::testing::Types<policy_pair<residency::first_n, prefetch::none>,
                     policy_pair<residency::first_n, prefetch::lookahead<1>>,
                     policy_pair<residency::first_n, prefetch::next_layer>,
                     policy_pair<residency::first_n, prefetch::lookahead<4>>,
                     policy_pair<residency::interleaved, prefetch::none>,
                     policy_pair<residency::interleaved, prefetch::lookahead<1>>,
                     policy_pair<residency::interleaved, prefetch::next_layer>,
                     policy_pair<residency::interleaved, prefetch::lookahead<4>>>;

template <class... A, class... B>
::testing::Types<A..., B...> concatenated(::testing::Types<A...>, ::testing::Types<B...>);

using every_policy_pair =
    decltype(concatenated(first_n_and_interleaved_pairs{},
                          ::testing::Types<policy_pair<residency::budget, prefetch::none>,
                                           policy_pair<residency::budget, prefetch::lookahead<1>>,
                                           policy_pair<residency::budget, prefetch::next_layer>,
                                           policy_pair<residency::budget, prefetch::lookahead<4>>>{}));

// Readable typed-test names: first_n_lookahead4, budget_none, ...
struct policy_pair_names {
    template <class Pair>
    static std::string GetName(int) {
        std::string p = Pair::prefetch::name;
        if constexpr (Pair::prefetch::run_ahead) p += std::to_string(Pair::prefetch::slots);
        return std::string(Pair::residency::name) + "_" + p;
    }
};

}  // namespace offload::testing
