#pragma once
// The policies compiled into offload-llama, per backend: 3 residencies x 2
// prefetch depths x 2 profilers = 12 layer_offloader instantiations (fewer
// than offload-ffn's 30: each also instantiates the decode loop). The first
// of each list is the default. With --gpus N > 1 (llama_tensor_parallel.hpp),
// 2 residencies x lookahead:4 x 2 profilers: 4 more, with the NCCL ranks.
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/budget.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

#include <offload_examples/policy_lists.hpp>

namespace llama::cli {

namespace ox = offload_examples;

using policies = ox::policy_lists<
    ox::type_list<offload::residency::first_n, offload::residency::interleaved, offload::residency::budget>,
    ox::type_list<offload::prefetch::lookahead<4>, offload::prefetch::next_layer>,
    ox::type_list<offload::profile::events, offload::profile::none>>;

using tensor_parallel_policies =
    ox::policy_lists<ox::type_list<offload::residency::first_n, offload::residency::interleaved>,
                     ox::type_list<offload::prefetch::lookahead<4>>,
                     ox::type_list<offload::profile::events, offload::profile::none>>;

}  // namespace llama::cli
