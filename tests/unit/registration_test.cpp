// Page-locking caller memory in place (host_memory::register_caller) is the
// process's, not an offloader's: two offloaders over the same memory share
// the lock, memory someone else locked is used and left alone, and the stats
// say which bytes were which.
#include <offload/detail/page_locks.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <offload/layer_offloader.hpp>
#include <offload/profile/none.hpp>

namespace {

constexpr std::size_t page = offload::detail::page_bytes;

template <class Backend = offload::backend::host>
using offloader = offload::layer_offloader<Backend, offload::residency::first_n, offload::prefetch::lookahead<2>,
                                           offload::profile::none>;

// Page-aligned caller memory, as a weight file mapping is.
struct aligned_bytes {
    explicit aligned_bytes(std::size_t n) : bytes(n), data(static_cast<std::byte*>(std::aligned_alloc(page, n))) {}
    ~aligned_bytes() { std::free(data); }
    std::size_t bytes;
    std::byte* data;
};

offload::config in_place() {
    offload::config c = offload::presets::manual(0);
    c.host_memory_mode = offload::host_memory::register_caller;
    return c;
}

offload::model two_layers_over(aligned_bytes const& mem) {
    offload::model m;
    m.add_layer({{mem.data, mem.bytes / 2}});
    m.add_layer({{mem.data + mem.bytes / 2, mem.bytes / 2}});
    return m;
}

TEST(registration, offloaders_over_the_same_memory_share_the_lock_and_the_last_one_unlocks) {
    aligned_bytes mem(8 * page);
    auto const m = two_layers_over(mem);
    offload::backend::host probe;
    auto first = std::make_unique<offloader<>>(m, in_place());
    {
        offloader<> second(m, in_place());
        auto const s = second.statistics();
        EXPECT_TRUE(s.pin_memory_effective);
        EXPECT_EQ(s.memory.registered_host_bytes, 8 * page);
        EXPECT_EQ(s.memory.already_locked_host_bytes, 0u);
        first.reset();  // the first goes while the second still streams from the memory
        EXPECT_TRUE(probe.is_page_locked(mem.data));
        EXPECT_TRUE(probe.is_page_locked(mem.data + 7 * page));
        for (auto layer : second.pass()) (void)layer;
    }
    EXPECT_FALSE(probe.is_page_locked(mem.data));
    EXPECT_FALSE(probe.is_page_locked(mem.data + 7 * page));
}

TEST(registration, memory_locked_by_someone_else_is_used_left_alone_and_reported) {
    aligned_bytes mem(8 * page);
    auto const m = two_layers_over(mem);
    offload::backend::host caller;  // the caller locks pages 2 and 3 itself
    ASSERT_EQ(caller.host_register(mem.data + 2 * page, 2 * page, false), offload::host_registration::registered);
    {
        offloader<> off(m, in_place());
        auto const s = off.statistics();
        EXPECT_EQ(s.memory.already_locked_host_bytes, 2 * page);
        EXPECT_EQ(s.memory.registered_host_bytes, 6 * page);
        EXPECT_EQ(s.memory.pinned_host_bytes, 8 * page);
        for (std::size_t p = 0; p < 8; ++p) EXPECT_TRUE(caller.is_page_locked(mem.data + p * page)) << "page " << p;
    }
    // What the offloader locked is unlocked; the caller's pages stay locked.
    for (std::size_t p = 0; p < 8; ++p)
        EXPECT_EQ(caller.is_page_locked(mem.data + p * page), p == 2 || p == 3) << "page " << p;
    caller.host_unregister(mem.data + 2 * page);
}

// Remembers the read_only flag of every registration it is asked for.
struct flag_recording_host : offload::backend::host {
    using offload::backend::host::host;
    offload::host_registration host_register(void* p, std::size_t n, bool read_only) {
        read_only_flags.push_back(read_only);
        return host::host_register(p, n, read_only);
    }
    std::vector<bool> read_only_flags;
};

TEST(registration, ranges_without_a_read_write_buffer_are_locked_read_only) {
    aligned_bytes weights(4 * page), state(2 * page);
    offload::model m;
    m.add_layer({{weights.data, weights.bytes}});
    m.add_layer({{state.data, state.bytes, offload::access::read_write}});
    offloader<flag_recording_host> off(m, in_place());
    auto flags = off.backend().read_only_flags;
    std::sort(flags.begin(), flags.end());
    EXPECT_EQ(flags, (std::vector<bool>{false, true}));
}

}  // namespace
