// Every bad input gets its own error with a message that says what to change.
#include <offload/errors.hpp>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <offload/layer_offloader.hpp>
#include <offload/residency/budget.hpp>

#include "support.hpp"

namespace {

using host_offloader = offload::layer_offloader<offload::backend::host, offload::residency::first_n,
                                                offload::prefetch::lookahead<2>, offload::profile::events>;
using budget_offloader = offload::layer_offloader<offload::backend::host, offload::residency::budget,
                                                  offload::prefetch::lookahead<2>, offload::profile::events>;

template <class Error, class Fn>
std::string message_of(Fn&& fn) {
    try {
        fn();
    } catch (Error const& e) {
        return e.what();
    }
    ADD_FAILURE() << "no exception of the expected type";
    return {};
}

TEST(errors, a_model_without_layers_is_refused) {
    offload::model empty;
    auto const what = message_of<offload::configuration_error>([&] { host_offloader off(empty, offload::config{}); });
    EXPECT_NE(what.find("no layers"), std::string::npos) << what;
}

TEST(errors, a_layer_without_buffers_is_refused) {
    offload::model m;
    auto const what = message_of<offload::configuration_error>([&] { m.add_layer(std::vector<offload::weight_buffer>{}); });
    EXPECT_NE(what.find("layer 0 has no weight buffers"), std::string::npos) << what;
}

TEST(errors, a_null_buffer_is_refused_naming_layer_and_buffer) {
    std::vector<char> bytes(64);
    offload::model m;
    m.add_layer({{bytes.data(), bytes.size()}});
    auto const what = message_of<offload::configuration_error>(
        [&] { m.add_layer({{bytes.data(), bytes.size()}, {static_cast<void const*>(nullptr), 16}}); });
    EXPECT_NE(what.find("layer 1, buffer 1 has a null host pointer"), std::string::npos) << what;
    EXPECT_EQ(m.size(), 1u);  // the bad layer was not added
}

TEST(errors, a_zero_size_buffer_is_refused) {
    std::vector<char> bytes(64);
    offload::model m;
    auto const what = message_of<offload::configuration_error>([&] { m.add_layer({{bytes.data(), 0}}); });
    EXPECT_NE(what.find("layer 0, buffer 0 has zero bytes"), std::string::npos) << what;
}

TEST(errors, more_layers_on_gpu_than_the_stack_has_is_clamped_with_a_warning) {
    offload::testing::patterned_model w(5);
    host_offloader off(w.get(), offload::presets::manual(12));
    auto const s = off.statistics();
    EXPECT_EQ(s.resident_layers.size(), 5u);
    EXPECT_TRUE(s.streamed_layers.empty());
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("clamped to 5"), std::string::npos) << s.warnings[0];
    for (auto layer : off.pass()) EXPECT_TRUE(layer.resident());
}

TEST(errors, a_budget_too_small_for_the_staging_slots_is_refused) {
    offload::testing::patterned_model w(6);
    offload::config cfg;
    cfg.gpu_memory_budget = w.max_footprint();  // room for one slot, but the ring has two
    auto const what = message_of<offload::configuration_error>([&] { budget_offloader off(w.get(), cfg); });
    EXPECT_NE(what.find("too small for 2 staging slot(s)"), std::string::npos) << what;
}

TEST(errors, running_out_of_device_memory_says_how_much_and_leaves_the_process_usable) {
    offload::testing::patterned_model w(8);
    offload::backend::host_options small;
    small.device_capacity = 3 * w.max_footprint();
    try {
        host_offloader off(w.get(), offload::presets::manual(6), small);
        FAIL() << "six resident layers cannot fit three layers' worth of memory";
    } catch (offload::out_of_memory const& e) {
        EXPECT_GT(e.requested_bytes, 0u);
        EXPECT_LT(e.available_bytes, e.requested_bytes);
        EXPECT_NE(std::string(e.what()).find("placing resident layer"), std::string::npos) << e.what();
    }
    // A smaller configuration in the same process runs.
    host_offloader off(w.get(), offload::presets::manual(1), small);
    for (auto layer : off.pass()) (void)layer;
    EXPECT_EQ(off.statistics().counts.passes, 1u);
    EXPECT_EQ(off.backend().device_used_bytes(), w.footprint(0) + 2 * w.max_footprint());
}

TEST(errors, running_out_while_allocating_staging_slots_names_the_slot) {
    // The resident layer and one slot fit; the second slot does not. What the
    // first allocations took is freed on the way out (LeakSanitizer checks it
    // in the asan preset).
    offload::testing::patterned_model w(8);
    offload::backend::host_options small;
    small.device_capacity = w.footprint(0) + w.max_footprint() + 1;
    auto const what = message_of<offload::out_of_memory>(
        [&] { host_offloader off(w.get(), offload::presets::manual(1), small); });
    EXPECT_NE(what.find("allocating staging slot 1 of 2"), std::string::npos) << what;
}

TEST(errors, a_second_pass_while_one_runs_is_refused) {
    offload::testing::patterned_model w(3);
    host_offloader off(w.get(), offload::presets::manual(1));
    auto first = off.pass();
    EXPECT_THROW((void)off.pass(), offload::configuration_error);
}

TEST(errors, refused_page_locking_falls_back_to_pageable_memory_and_says_so) {
    offload::testing::patterned_model w(6);
    offload::backend::host_options refuse;
    refuse.refuse_pinned_memory = true;
    for (auto mode : {offload::host_memory::copy_to_pinned, offload::host_memory::register_caller}) {
        offload::config cfg = offload::presets::manual(2);
        cfg.host_memory_mode = mode;
        host_offloader off(w.get(), cfg, refuse);
        for (auto layer : off.pass()) {
            std::vector<void const*> ptrs;
            for (std::size_t b = 0; b < layer.buffer_count(); ++b) ptrs.push_back(layer.buffer(b));
            ASSERT_TRUE(offload::testing::patterned_model::holds_own_bytes(layer.index(),
                                                                            w.get().layer(layer.index()), ptrs.data()));
        }
        auto const s = off.statistics();
        EXPECT_TRUE(s.pin_memory_requested);
        EXPECT_FALSE(s.pin_memory_effective);
        EXPECT_EQ(s.memory.pinned_host_bytes, 0u);
        EXPECT_GT(s.memory.pageable_host_bytes, 0u);
        ASSERT_EQ(s.warnings.size(), 1u);
        EXPECT_NE(s.warnings[0].find("pageable"), std::string::npos);
    }
}

}  // namespace
