// An offloaded pass of the cuBLAS FFN stack computes exactly what the
// all-resident stack computes, bit for bit, for every residency and prefetch
// policy and every way of holding the host weights.
#include <offload/layer_offloader.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offload/backend/cuda.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/budget.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>

#include "../common/policy_pairs.hpp"
#include "support.hpp"

namespace {

using namespace offload::cuda_testing;

// Small enough to run in well under a second, large enough for several GEMM
// tiles and a batch above 1.
ffn::dims const small_dims{256, 512, 4};
constexpr std::size_t layer_count = 12;
constexpr std::size_t middle_count = 5;  // resident layers in the "some resident" case
constexpr std::uint64_t input_seeds[] = {11, 12};

template <class Combo>
class equivalence : public cuda_test {
protected:
    using offloader = offload::layer_offloader<offload::backend::cuda, typename Combo::residency,
                                               typename Combo::prefetch, offload::profile::none>;

    // Configurations giving 0, some and all layers resident under this policy.
    std::vector<std::pair<offload::config, std::size_t>> configs(ffn_weights const& w) const {
        std::vector<std::pair<offload::config, std::size_t>> out;
        if constexpr (std::is_same_v<typename Combo::residency, offload::residency::budget>) {
            std::size_t const fp = w.model().layer(0).footprint();  // every layer has the same shape
            std::size_t const staging = Combo::prefetch::slots * fp;
            for (std::size_t resident : {std::size_t{0}, middle_count}) {
                offload::config c;
                c.gpu_memory_budget = staging + resident * fp;
                out.emplace_back(c, resident);
            }
            offload::config all;
            all.gpu_memory_budget = layer_count * fp;
            out.emplace_back(all, layer_count);
        } else {
            for (std::size_t resident : {std::size_t{0}, middle_count, layer_count})
                out.emplace_back(offload::presets::manual(resident), resident);
        }
        return out;
    }
};

TYPED_TEST_SUITE(equivalence, offload::testing::every_policy_pair, offload::testing::policy_pair_names);

TYPED_TEST(equivalence, bit_identical_to_all_resident) {
    ffn_weights const w(small_dims, layer_count);
    ffn::cuda_stack stack(small_dims, this->stream_);
    std::vector<std::vector<std::uint16_t>> reference;
    for (auto seed : input_seeds) {
        reference.push_back(resident_reference(w, stack, seed));
        ASSERT_TRUE(all_finite_bf16(reference.back()));
    }

    for (auto const& [cfg, expected_resident] : this->configs(w)) {
        SCOPED_TRACE("resident layers expected: " + std::to_string(expected_resident));
        typename TestFixture::offloader off(w.model(), cfg, this->options());
        auto const s0 = off.statistics();
        ASSERT_EQ(s0.resident_layers.size(), expected_resident);
        std::size_t const streamed = layer_count - expected_resident;

        // Two inputs, twice each: slots are reused across passes.
        std::size_t passes = 0;
        for (int round = 0; round < 2; ++round)
            for (std::size_t k = 0; k < std::size(input_seeds); ++k) {
                SCOPED_TRACE("round " + std::to_string(round) + ", input seed " + std::to_string(input_seeds[k]));
                auto const got = offloaded_pass(off, stack, input_seeds[k]);
                ++passes;
                EXPECT_EQ(first_difference(got, reference[k]), -1) << "first differing element (bf16 bits)";
            }

        off.synchronize();
        auto const s = off.statistics();
        EXPECT_EQ(s.counts.passes, passes);
        EXPECT_EQ(s.counts.aborted_passes, 0u);
        EXPECT_EQ(s.counts.layer_computes, passes * layer_count);
        EXPECT_EQ(s.counts.layer_loads, passes * streamed);
        EXPECT_EQ(s.counts.bytes_device_to_host, 0u);
        EXPECT_TRUE(s.pin_memory_effective);
        EXPECT_EQ(s.staging_slots, streamed == 0 ? 0 : std::min(TypeParam::prefetch::slots, streamed));
    }
}

// --- host memory: library-pinned copies, caller memory registered in place,
// and plain pageable memory all give the same bits ----------------------------

class host_memory : public cuda_test {};

TEST_F(host_memory, pinned_registered_and_pageable_give_the_same_bits) {
    ffn_weights const w(small_dims, layer_count);
    ffn::cuda_stack stack(small_dims, stream_);
    auto const reference = resident_reference(w, stack, 21);

    struct mode {
        char const* name;
        offload::host_memory memory;
        bool pin;
    };
    for (mode const m : {mode{"copy_to_pinned", offload::host_memory::copy_to_pinned, true},
                         mode{"register_caller", offload::host_memory::register_caller, true},
                         mode{"pageable", offload::host_memory::copy_to_pinned, false}}) {
        SCOPED_TRACE(m.name);
        offload::config cfg = offload::presets::manual(4);
        cfg.host_memory_mode = m.memory;
        cfg.pin_memory = m.pin;
        offload::layer_offloader<offload::backend::cuda, offload::residency::first_n, offload::prefetch::next_layer,
                                 offload::profile::none>
            off(w.model(), cfg, options());
        for (int pass = 0; pass < 2; ++pass)
            EXPECT_EQ(first_difference(offloaded_pass(off, stack, 21), reference), -1);

        auto const s = off.statistics();
        EXPECT_EQ(s.pin_memory_effective, m.pin) << "warnings: " << (s.warnings.empty() ? "" : s.warnings.front());
        EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
        std::size_t const streamed_payload = (layer_count - 4) * w.model().layer(0).payload_bytes();
        if (m.pin) {
            EXPECT_GE(s.memory.pinned_host_bytes, streamed_payload);
            EXPECT_EQ(s.memory.pageable_host_bytes, 0u);
        } else {
            EXPECT_EQ(s.memory.pinned_host_bytes, 0u);
            EXPECT_EQ(s.memory.pageable_host_bytes, streamed_payload);
        }
        EXPECT_EQ(s.host_memory, m.memory == offload::host_memory::copy_to_pinned ? "copy_to_pinned"
                                                                                    : "register_caller");
    }
}

// Registered memory is unregistered when the offloader goes, so that the same
// caller memory can be registered again by the next one.
TEST_F(host_memory, caller_memory_can_be_registered_again_after_an_offloader) {
    ffn_weights const w(small_dims, layer_count);
    ffn::cuda_stack stack(small_dims, stream_);
    auto const reference = resident_reference(w, stack, 5);
    offload::config cfg = offload::presets::manual(2);
    cfg.host_memory_mode = offload::host_memory::register_caller;
    for (int round = 0; round < 2; ++round) {
        offload::layer_offloader<offload::backend::cuda, offload::residency::first_n, offload::prefetch::lookahead<4>,
                                 offload::profile::none>
            off(w.model(), cfg, options());
        EXPECT_TRUE(off.statistics().pin_memory_effective) << "round " << round;
        EXPECT_EQ(first_difference(offloaded_pass(off, stack, 5), reference), -1) << "round " << round;
    }
}

}  // namespace
