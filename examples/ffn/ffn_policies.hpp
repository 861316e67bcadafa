#pragma once
// The policies compiled into offload-ffn, per backend: without a codec, 3
// residencies x 5 prefetch depths x 2 profilers (30); with a codec, residency
// first_n and prefetch lookahead:4 only, x 2 profilers x 4 codecs (8), so that
// the codec dimension does not multiply the 30. The first of each list is the
// default; --prefetch next is lookahead:2, --codec fp8 is fp8_e4m3. With
// --gpus N > 1 (tensor_parallel.hpp), 2 residencies x lookahead:4 x 2
// profilers x codec none: each is one more instantiation, and these cover the
// runs docs/multi-gpu.md makes.
#include <offload/codec/fp8_e4m3.hpp>
#include <offload/codec/int4.hpp>
#include <offload/codec/int8.hpp>
#include <offload/codec/lossless.hpp>
#include <offload/codec/none.hpp>
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

using profilers = ox::type_list<offload::profile::events, offload::profile::none>;

using policies = ox::policy_union<
    ox::policy_lists<
        ox::type_list<offload::residency::first_n, offload::residency::interleaved, offload::residency::budget>,
        ox::type_list<offload::prefetch::lookahead<4>, offload::prefetch::none, offload::prefetch::lookahead<1>,
                      offload::prefetch::lookahead<2>, offload::prefetch::lookahead<8>>,
        profilers, ox::type_list<offload::codec::none>>,
    ox::policy_lists<ox::type_list<offload::residency::first_n>, ox::type_list<offload::prefetch::lookahead<4>>,
                     profilers,
                     ox::type_list<offload::codec::int8, offload::codec::fp8_e4m3, offload::codec::int4,
                                   offload::codec::lossless_bf16>>>;


using tensor_parallel_policies =
    ox::policy_lists<ox::type_list<offload::residency::first_n, offload::residency::interleaved>,
                     ox::type_list<offload::prefetch::lookahead<4>>, profilers, ox::type_list<offload::codec::none>>;

}  // namespace ffn::cli
