#pragma once
// The policies compiled into offload-ffn: each backend x 3 residencies x 5
// prefetch depths x 2 profilers (30 per backend). The first of each list is
// the default; --prefetch next is lookahead:2.
#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/budget.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

#include <offload_examples/policy_lists.hpp>

namespace ffn::cli {

namespace ox = offload_examples;

using policies = ox::policy_lists<
    ox::type_list<offload::residency::first_n, offload::residency::interleaved, offload::residency::budget>,
    ox::type_list<offload::prefetch::lookahead<4>, offload::prefetch::none, offload::prefetch::lookahead<1>,
                  offload::prefetch::lookahead<2>, offload::prefetch::lookahead<8>>,
    ox::type_list<offload::profile::events, offload::profile::none>>;

}  // namespace ffn::cli
