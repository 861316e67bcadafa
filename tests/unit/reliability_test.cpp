// What the library promises when things go wrong (docs/reliability.md), on the
// host backend: an exception in the user's compute abandons only its pass;
// destroying an offloader with copies in flight waits for them and frees
// everything; an out-of-memory during construction leaks nothing.
#include <offload/layer_offloader.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <gtest/gtest.h>

#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/residency/first_n.hpp>

#include "../common/process_memory.hpp"
#include "support.hpp"

namespace {

using offload::testing::patterned_model;
using clock_type = std::chrono::steady_clock;

// The host backend, counting what is live of everything the offloader takes
// from it, so that a test can see it all given back after destruction.
struct tracking_host : offload::backend::host {
    using host::host;

    void* device_allocate(std::size_t bytes, std::string const& what_for) {
        void* p = host::device_allocate(bytes, what_for);
        live_device_bytes += static_cast<std::ptrdiff_t>(bytes);
        return p;
    }
    void device_deallocate(void* p, std::size_t bytes) noexcept {
        if (p != nullptr) live_device_bytes -= static_cast<std::ptrdiff_t>(bytes);
        host::device_deallocate(p, bytes);
    }
    void* pinned_allocate(std::size_t bytes) {
        void* p = host::pinned_allocate(bytes);
        if (p != nullptr) ++live_pinned_blocks;
        return p;
    }
    void pinned_deallocate(void* p) noexcept {
        if (p != nullptr) --live_pinned_blocks;
        host::pinned_deallocate(p);
    }
    event_type event_create(bool timing) {
        ++live_events;
        return host::event_create(timing);
    }
    void event_destroy(event_type e) noexcept {
        --live_events;
        host::event_destroy(e);
    }

    static inline std::atomic<std::ptrdiff_t> live_device_bytes{0};
    static inline std::atomic<std::ptrdiff_t> live_pinned_blocks{0};
    static inline std::atomic<std::ptrdiff_t> live_events{0};
};
static_assert(offload::backend_type<tracking_host>);

struct live_counts {
    std::ptrdiff_t device_bytes = tracking_host::live_device_bytes;
    std::ptrdiff_t pinned_blocks = tracking_host::live_pinned_blocks;
    std::ptrdiff_t events = tracking_host::live_events;
    friend bool operator==(live_counts const&, live_counts const&) = default;
};

void expect_all_given_back(live_counts const& before, char const* where) {
    live_counts const now;
    EXPECT_EQ(now.device_bytes, before.device_bytes) << where << ": device bytes still allocated";
    EXPECT_EQ(now.pinned_blocks, before.pinned_blocks) << where << ": pinned blocks still allocated";
    EXPECT_EQ(now.events, before.events) << where << ": events not destroyed";
}

template <class Prefetch>
using tracked_offloader =
    offload::layer_offloader<tracking_host, offload::residency::first_n, Prefetch, offload::profile::events>;

constexpr bool sanitized = offload::testing::under_sanitizer;

// Anonymous resident memory in bytes (resident less file-backed pages of
// /proc/self/statm), after handing free heap memory back to the system
// (malloc_trim): memory in use, which a leak grows, rather than what the
// allocator keeps cached, which a burst of large blocks grows for a while.
// Read with a stack buffer, so that reading allocates nothing.
std::size_t rss_bytes() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    return offload::testing::anonymous_resident_bytes();
}

// Layers of one buffer of `bytes`, each byte saying its layer.
struct uniform_model {
    uniform_model(std::size_t layers, std::size_t bytes) : storage(layers) {
        for (std::size_t l = 0; l < layers; ++l) {
            storage[l].assign(bytes, static_cast<std::uint8_t>(l + 1));
            m.add_layer({{storage[l].data(), bytes}});
        }
    }
    std::vector<std::vector<std::uint8_t>> storage;
    offload::model m;
};

// (a) ------------------------------------------------------------------------

TEST(reliability, exceptions_thrown_by_compute_mid_pass_abandon_only_their_pass) {
    constexpr std::size_t layers = 10, resident = 3, failures = 100;
    patterned_model weights{layers};
    live_counts const before;
    {
        tracked_offloader<offload::prefetch::lookahead<2>> off(weights.get(), offload::presets::manual(resident));
        std::size_t const used_after_construction = off.backend().device_used_bytes();
        ASSERT_GT(used_after_construction, 0u);

        std::size_t good = 0, wrong = 0;
        auto good_pass = [&] {
            for (auto layer : off.pass()) {
                std::vector<void const*> buffers;
                for (std::size_t b = 0; b < layer.buffer_count(); ++b) buffers.push_back(layer.buffer(b));
                if (!patterned_model::holds_own_bytes(layer.index(), weights.get().layer(layer.index()), buffers.data()))
                    ++wrong;
            }
            ++good;
        };

        struct user_failure {};
        std::mt19937 rng(20261127);
        std::uniform_int_distribution<std::size_t> failing_layer(0, layers - 1), good_after(1, 3);
        good_pass();
        for (std::size_t k = 0; k < failures; ++k) {
            std::size_t const fail_at = failing_layer(rng);
            bool thrown = false;
            try {
                for (auto layer : off.pass()) {
                    // Dirty the staging slot first: the next pass must not reuse these bytes.
                    if (!layer.resident()) std::memset(layer.buffer(0), 0xCD, layer.bytes(0));
                    if (layer.index() == fail_at) {
                        if (k % 2 == 0) throw std::runtime_error("compute failed");
                        throw user_failure{};  // not a std::exception
                    }
                }
            } catch (std::runtime_error const&) {
                thrown = true;
            } catch (user_failure const&) {
                thrown = true;
            }
            ASSERT_TRUE(thrown) << "failure " << k;
            EXPECT_EQ(off.backend().device_used_bytes(), used_after_construction) << "after failure " << k;
            for (std::size_t g = good_after(rng); g > 0; --g) good_pass();
        }

        EXPECT_EQ(wrong, 0u) << "good passes whose compute saw bytes that were not its layer's";
        auto const s = off.statistics();
        EXPECT_EQ(s.counts.passes, good);
        EXPECT_EQ(s.counts.aborted_passes, failures);
        ASSERT_TRUE(s.timing.has_value());
        EXPECT_EQ(s.timing->pass_wall.count, good);  // an abandoned pass is not timed
        for (auto const& l : s.layers) EXPECT_EQ(l.samples, good) << "layer " << l.index;
        EXPECT_EQ(off.backend().device_used_bytes(), used_after_construction);
    }
    expect_all_given_back(before, "after the offloader is destroyed");
}

// (b) ------------------------------------------------------------------------

constexpr double slow_link = 50e6;  // bytes per second
constexpr std::size_t big_layer = 256 * 1024;
double copy_ms(std::size_t copies) { return 1e3 * static_cast<double>(copies * big_layer) / slow_link; }
double ms_since(clock_type::time_point t) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}
// Generous, for sanitized builds on a busy machine; what matters is that the
// wait is bounded by the copies, not a hang.
constexpr double slack_ms = 2000;

TEST(reliability, leaving_a_pass_with_copies_in_flight_and_destroying_waits_for_them_and_frees_everything) {
    constexpr std::size_t layers = 8;
    uniform_model w(layers, big_layer);
    offload::backend::host_options o;
    o.link_bytes_per_second = slow_link;
    live_counts const before;
    clock_type::time_point start;
    {
        tracked_offloader<offload::prefetch::lookahead<4>> off(w.m, offload::presets::manual(0), o);
        ASSERT_EQ(off.staging_slots(), 4u);
        start = clock_type::now();
        // The pass issues the copies of four layers at once; the compute of
        // the first waits for its own, then the loop is left.
        for (auto layer : off.pass()) {
            EXPECT_EQ(*layer.buffer_as<std::uint8_t>(0), 1);
            break;
        }
    }
    double const elapsed = ms_since(start);
    std::printf("left a pass after its first layer and destroyed: %.1f ms (4 copies in flight: %.1f ms)\n", elapsed,
                copy_ms(4));
    EXPECT_GE(elapsed, 0.9 * copy_ms(4)) << "returned before the copies in flight were done";
    EXPECT_LT(elapsed, copy_ms(4) + slack_ms);
    expect_all_given_back(before, "after the offloader is destroyed");
}

TEST(reliability, destroying_an_offloader_while_its_pass_is_still_in_flight_waits_for_it_and_frees_everything) {
    constexpr std::size_t layers = 8;
    uniform_model w(layers, big_layer);
    offload::backend::host_options o;
    o.link_bytes_per_second = slow_link;
    o.compute = offload::detail::host_stream::kind::worker_thread;  // the host runs ahead of compute
    live_counts const before;
    std::atomic<std::size_t> computed{0}, wrong{0};
    clock_type::time_point start;
    double enqueued_ms = 0;
    {
        using offloader = tracked_offloader<offload::prefetch::lookahead<4>>;
        offloader off(w.m, offload::presets::manual(0), o);
        start = clock_type::now();
        for (auto layer : off.pass()) {
            auto const* p = layer.buffer_as<std::uint8_t const>(0);
            auto const expected = static_cast<std::uint8_t>(layer.index() + 1);
            offloader::backend_type::enqueue(layer.stream(), [p, expected, &computed, &wrong] {
                if (p[0] != expected || p[big_layer - 1] != expected) ++wrong;
                ++computed;
            });
        }
        enqueued_ms = ms_since(start);
        // Destroyed here, with the copies of most layers still queued on the slow link.
    }
    double const elapsed = ms_since(start);
    std::printf("enqueued a pass in %.1f ms, destroyed after %.1f ms (8 copies: %.1f ms)\n", enqueued_ms, elapsed,
                copy_ms(layers));
    EXPECT_LT(enqueued_ms, copy_ms(layers) / 2) << "the host did not run ahead: nothing was in flight";
    EXPECT_EQ(computed, layers) << "the destructor returned before the enqueued compute ran";
    EXPECT_EQ(wrong, 0u);
    EXPECT_GE(elapsed, 0.9 * copy_ms(layers)) << "returned before the copies in flight were done";
    EXPECT_LT(elapsed, copy_ms(layers) + slack_ms);
    expect_all_given_back(before, "after the offloader is destroyed");
}

// (c) ------------------------------------------------------------------------

TEST(reliability, out_of_memory_during_construction_leaks_nothing) {
    constexpr std::size_t layers = 12, resident = 4, warmup = 100, attempts = 50;
    uniform_model w(layers, big_layer);
    std::size_t const footprint = w.m.layer(0).footprint();
    live_counts const before;
    bool given_back_reported = false;

    // Too small for the resident layers, or for the second staging slot (the
    // streamed layers' pinned copies are made before either).
    auto attempt = [&](std::size_t k) {
        bool const in_slots = k % 2 == 1;
        offload::backend::host_options o;
        o.device_capacity = in_slots ? (resident + 1) * footprint : (resident - 1) * footprint;
        char const* const expected = in_slots ? "allocating staging slot 1 of 2" : "placing resident layer 3";
        try {
            tracked_offloader<offload::prefetch::lookahead<2>> off(w.m, offload::presets::manual(resident), o);
            ADD_FAILURE() << "no out_of_memory with a device of " << o.device_capacity << " bytes";
        } catch (offload::out_of_memory const& e) {
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
            EXPECT_EQ(e.requested_bytes, footprint);
            EXPECT_LT(e.available_bytes, e.requested_bytes);
        }
        if (!given_back_reported && !(live_counts{} == before)) {  // reported once, not for every attempt after
            given_back_reported = true;
            expect_all_given_back(before, in_slots ? "after out of memory in the staging slots"
                                                   : "after out of memory in the resident layers");
        }
    };

    // The allocator's own bookkeeping settles within some tens of attempts
    // (glibc: pages of free lists among the freed blocks); a leak never does.
    for (std::size_t k = 0; k < warmup; ++k) attempt(k);
    std::size_t const rss_before = rss_bytes();
    for (std::size_t k = 0; k < attempts; ++k) attempt(k);
    std::size_t const rss_after = rss_bytes();
    std::printf("anonymous RSS before %zu failed constructions %zu bytes, after %zu bytes\n", attempts, rss_before,
                rss_after);
    ASSERT_GT(rss_before, 0u) << "cannot read /proc/self/statm";
    if (!sanitized) {
        EXPECT_LE(rss_after, rss_before + rss_before / 100) << "RSS grew by more than 1%";
    }
}

}  // namespace
