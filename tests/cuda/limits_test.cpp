// Device memory running out, and the NVTX profiler on a real device.
#include <offload/layer_offloader.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <offload/backend/cuda.hpp>
#include <offload/profile/combine.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/profile/nvtx.hpp>

#include "support.hpp"

namespace {

using offload::cuda_testing::cuda_test;

// One pinned 4 GiB block that every layer of a model points at: the host
// holds 4 GiB while the model asks the device for more than it has.
struct shared_pinned_block {
    static constexpr std::size_t bytes = std::size_t{4} << 30;
    shared_pinned_block() { OFFLOAD_TEST_CUDA(cudaHostAlloc(&data, bytes, cudaHostAllocDefault)); }
    ~shared_pinned_block() { cudaFreeHost(data); }
    void* data = nullptr;
};

std::size_t device_free_bytes() {
    std::size_t free_bytes = 0, total = 0;
    OFFLOAD_TEST_CUDA(cudaMemGetInfo(&free_bytes, &total));
    return free_bytes;
}

class limits : public cuda_test {};

TEST_F(limits, out_of_device_memory_says_how_much_frees_everything_and_a_smaller_run_works) {
    shared_pinned_block block;
    using offloader = offload::layer_offloader<offload::backend::cuda, offload::residency::first_n,
                                               offload::prefetch::lookahead<2>, offload::profile::none>;
    offload::model small;
    for (int i = 0; i < 4; ++i) small.add_layer({{block.data, std::size_t{64} << 20}});
    offload::config two = offload::presets::manual(2);
    two.host_memory_mode = offload::host_memory::register_caller;
    // One offloader first, so that what the driver sets up once (about 2 MiB
    // seen on an H200) is not counted against the failed one.
    { offloader warm_up(small, two, options()); }

    std::size_t const free_before = device_free_bytes();
    std::size_t const layers = free_before / shared_pinned_block::bytes + 2;  // more than the device holds
    offload::model too_big;
    for (std::size_t i = 0; i < layers; ++i) too_big.add_layer({{block.data, shared_pinned_block::bytes}});
    offload::config all_resident = offload::presets::manual(layers);
    all_resident.host_memory_mode = offload::host_memory::register_caller;
    try {
        offloader off(too_big, all_resident, options());
        FAIL() << layers << " layers of 4 GiB fitted in " << free_before << " free bytes";
    } catch (offload::out_of_memory const& e) {
        EXPECT_EQ(e.requested_bytes, shared_pinned_block::bytes);
        EXPECT_LT(e.available_bytes, e.requested_bytes);
        EXPECT_NE(std::string(e.what()).find("placing resident layer"), std::string::npos) << e.what();
    }
    // Everything the failed offloader took is back.
    EXPECT_EQ(device_free_bytes(), free_before);

    // The same process builds a smaller configuration, and it runs: two layers
    // resident, two streamed from the caller's (already pinned) block.
    offloader off(small, two, options());
    for (auto layer : off.pass()) (void)layer;
    off.synchronize();
    auto const s = off.statistics();
    EXPECT_EQ(s.counts.passes, 1u);
    EXPECT_EQ(s.counts.layer_loads, 2u);
    EXPECT_TRUE(s.pin_memory_effective);  // cudaHostAlloc memory is used as it is
}

TEST_F(limits, nvtx_ranges_beside_events_change_nothing_but_the_name) {
    shared_pinned_block block;
    offload::model m;
    for (int i = 0; i < 6; ++i) m.add_layer({{block.data, std::size_t{32} << 20}});
    offload::config cfg = offload::presets::manual(2);
    cfg.host_memory_mode = offload::host_memory::register_caller;
    using both = offload::profile::combine<offload::profile::events, offload::profile::nvtx>;
    offload::layer_offloader<offload::backend::cuda, offload::residency::first_n, offload::prefetch::lookahead<2>,
                             both>
        off(m, cfg, options());
    for (int p = 0; p < 3; ++p)
        for (auto layer : off.pass()) (void)layer;
    auto const s = off.statistics();
    EXPECT_EQ(s.profiler, "events+nvtx");
    ASSERT_TRUE(s.timing);
    EXPECT_EQ(s.timing->pass_wall.count, 3u);
    ASSERT_TRUE(s.timing->cpu_to_gpu_transfer_ms);
    EXPECT_GT(*s.timing->cpu_to_gpu_transfer_ms, 0);
    EXPECT_EQ(s.counts.layer_loads, 12u);
}

}  // namespace
