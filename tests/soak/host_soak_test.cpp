// Soak on the host backend: 10,000 passes through a small stack, with the
// events profiler and with profile::none. Host memory must stay flat
// (anonymous RSS after 200 warm-up passes and at the end within 1%; not
// checked in sanitized builds), every counter must be exactly
// passes x the work of one pass, every compute must see its layer's bytes, and
// a read-write state buffer in a streamed layer, incremented by each pass's
// compute, must have come through every write-back and reload.
//
// Runs in a few seconds; ctest -L soak (the presets leave it out).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>


#include <gtest/gtest.h>

#include <offload/backend/host.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/first_n.hpp>

#include "../common/process_memory.hpp"

namespace {

constexpr std::size_t layer_count = 12;
constexpr std::size_t resident_count = 4;
constexpr std::size_t weight_bytes = 64 * 1024;
constexpr std::size_t state_layer = 7;  // streamed (layers 0..3 are resident)
constexpr std::size_t state_bytes = 256;
constexpr std::size_t state_words = state_bytes / sizeof(std::uint64_t);
constexpr std::size_t warmup_passes = 200;
constexpr std::size_t total_passes = 10000;

constexpr bool sanitized = offload::testing::under_sanitizer;

std::uint8_t weight_byte(std::size_t layer) { return static_cast<std::uint8_t>(layer * 37 + 1); }

std::size_t rss_bytes() { return offload::testing::anonymous_resident_bytes(); }

// Twelve 64 KiB layers; layer 7 also holds a 256-byte read-write state.
struct soak_model {
    soak_model() : weights(layer_count, std::vector<std::uint8_t>(weight_bytes)), state(state_words, 0) {
        for (std::size_t l = 0; l < layer_count; ++l) {
            std::fill(weights[l].begin(), weights[l].end(), weight_byte(l));
            if (l == state_layer)
                m.add_layer({{weights[l].data(), weight_bytes}, {state.data(), state_bytes, offload::access::read_write}});
            else
                m.add_layer({{weights[l].data(), weight_bytes}});
        }
    }
    std::vector<std::vector<std::uint8_t>> weights;
    std::vector<std::uint64_t> state;
    offload::model m;
};

template <class Profiler>
using soak_offloader = offload::layer_offloader<offload::backend::host, offload::residency::first_n,
                                                offload::prefetch::lookahead<2>, Profiler>;

offload::backend::host_options inline_compute() {
    offload::backend::host_options o;
    o.compute = offload::detail::host_stream::kind::inline_on_caller;  // compute on the calling thread
    return o;
}

// One offloader, its model, and what its computes saw.
template <class Profiler>
struct soak_run {
    soak_model model;
    soak_offloader<Profiler> off{model.m, offload::presets::manual(resident_count), inline_compute()};
    std::size_t wrong_bytes = 0;  // computes that saw bytes not their layer's

    void pass() {
        off.run_pass([&](auto const& layer) {
            auto const* w = layer.template buffer_as<std::uint8_t const>(0);
            std::uint8_t const expected = weight_byte(layer.index());
            if (w[0] != expected || w[weight_bytes / 2] != expected || w[weight_bytes - 1] != expected) ++wrong_bytes;
            if (layer.index() == state_layer) {
                auto* s = layer.template buffer_as<std::uint64_t>(1);
                for (std::size_t k = 0; k < state_words; ++k) ++s[k];
            }
        });
    }

    // The state as written back to the host (the library's pinned copy of layer 7).
    std::vector<std::uint64_t> host_state() {
        off.synchronize();
        auto const* s = static_cast<std::uint64_t const*>(off.host_buffer(state_layer, 1));
        return {s, s + state_words};
    }
};

// What one pass moves and does, from the model's layout (stats.md: a layer in
// slot layout moves in one copy from its first buffer to the end of its last).
offload::counters per_pass(offload::model const& m) {
    offload::counters c;
    c.passes = 1;
    c.layer_computes = layer_count;
    for (std::size_t l = resident_count; l < layer_count; ++l) {
        auto const& d = m.layer(l);
        std::size_t const last = d.buffers().size() - 1;
        ++c.layer_loads;
        c.bytes_host_to_device += d.offset(last) + d.buffers()[last].bytes;
    }
    c.bytes_device_to_host = state_bytes;
    return c;
}

offload::counters times(offload::counters c, std::size_t n) {
    return {c.passes * n, c.aborted_passes * n, c.layer_computes * n, c.layer_loads * n,
            c.bytes_host_to_device * n, c.bytes_device_to_host * n};
}

template <class Run>
void check_counters(Run& r, char const* name) {
    auto const s = r.off.statistics();
    auto const expected = times(per_pass(r.model.m), total_passes);
    EXPECT_EQ(s.counts, expected) << name;
    EXPECT_EQ(s.counts.passes, total_passes) << name;
    EXPECT_EQ(s.counts.aborted_passes, 0u) << name;
    EXPECT_EQ(s.counts.layer_computes, total_passes * layer_count) << name;
    EXPECT_EQ(s.counts.layer_loads, total_passes * (layer_count - resident_count)) << name;
    EXPECT_EQ(s.counts.bytes_device_to_host, total_passes * state_bytes) << name;
    EXPECT_EQ(s.counts.bytes_host_to_device,
              total_passes * ((layer_count - resident_count) * weight_bytes + state_bytes)) << name;
    ASSERT_EQ(s.layers.size(), layer_count) << name;
    for (std::size_t l = 0; l < layer_count; ++l)
        EXPECT_EQ(s.layers[l].loads, l < resident_count ? 0u : total_passes) << name << ", layer " << l;
    EXPECT_EQ(r.wrong_bytes, 0u) << name;
    auto const state = r.host_state();
    for (std::size_t k = 0; k < state_words; ++k)
        EXPECT_EQ(state[k], total_passes) << name << ", state word " << k;
}

TEST(host_soak, ten_thousand_passes_keep_memory_flat_and_count_exactly) {
    soak_run<offload::profile::events> timed;
    soak_run<offload::profile::none> untimed;
    ASSERT_EQ(timed.off.staging_slots(), 2u);
    ASSERT_TRUE(timed.off.is_resident(resident_count - 1));
    ASSERT_FALSE(timed.off.is_resident(state_layer));

    for (std::size_t p = 0; p < warmup_passes; ++p) {
        timed.pass();
        untimed.pass();
    }
    // Each reading once every pass is done (host_state synchronizes), and
    // before statistics(), whose sorted copy of the pass-wall window is a
    // transient of up to 32 KiB.
    (void)timed.host_state();
    (void)untimed.host_state();
    std::size_t const rss_after_warmup = rss_bytes();

    for (std::size_t p = warmup_passes; p < total_passes; ++p) {
        timed.pass();
        untimed.pass();
    }
    (void)timed.host_state();
    (void)untimed.host_state();
    std::size_t const rss_at_end = rss_bytes();
    ASSERT_GT(rss_after_warmup, 0u) << "cannot read /proc/self/statm";

    double const growth = (static_cast<double>(rss_at_end) - static_cast<double>(rss_after_warmup)) /
                          static_cast<double>(rss_after_warmup);
    std::printf("host soak: anonymous RSS after %zu warm-up passes %zu bytes, after %zu passes %zu bytes (%+.3f%%)\n",
                warmup_passes, rss_after_warmup, total_passes, rss_at_end, 100 * growth);
    std::fflush(stdout);
    if (sanitized) {
        std::printf("host soak: sanitized build (allocator quarantine, shadow memory): RSS not checked\n");
    } else {
        EXPECT_LE(rss_at_end, rss_after_warmup + rss_after_warmup / 100)
            << "host RSS grew by more than 1% over " << total_passes - warmup_passes << " passes";
        EXPECT_GE(rss_at_end, rss_after_warmup - rss_after_warmup / 100);
    }

    check_counters(timed, "profile::events");
    check_counters(untimed, "profile::none");

    auto const s = timed.off.statistics();
    ASSERT_TRUE(s.timing.has_value());
    EXPECT_EQ(s.timing->pass_wall.count, total_passes);
    EXPECT_EQ(s.layers[state_layer].samples, total_passes);
    EXPECT_FALSE(untimed.off.statistics().timing.has_value());
}

}  // namespace
