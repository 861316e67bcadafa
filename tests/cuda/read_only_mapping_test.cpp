// Weights in a read-only file mapping (as a safetensors file is mapped) are
// page-locked in place with read-only registration, stream at pinned speed,
// and give the same bits as the all-resident reference.
#include <offload/backend/cuda.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <offload/layer_offloader.hpp>
#include <offload/profile/none.hpp>

#include "support.hpp"

namespace {

using namespace offload::cuda_testing;

ffn::dims const dims{256, 512, 4};

class read_only_mapping : public cuda_test {};

TEST_F(read_only_mapping, is_registered_read_only_in_place_and_streams_the_same_bits) {
    constexpr std::size_t layers = 6;
    ffn_weights w(dims, layers);
    // Every buffer at a page boundary in the file, as a mapping would place it.
    auto const path = std::filesystem::temp_directory_path() / "offload_read_only_mapping.bin";
    std::size_t const page = page_buffer::page_size();
    std::vector<std::vector<std::size_t>> offsets;
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        std::size_t at = 0;
        for (auto const& layer : w.buffers) {
            offsets.emplace_back();
            for (auto const& b : layer) {
                offsets.back().push_back(at);
                out.write(static_cast<char const*>(b.data()), static_cast<std::streamsize>(b.bytes()));
                std::size_t const padded = (b.bytes() + page - 1) / page * page;
                std::vector<char> pad(padded - b.bytes(), 0);
                out.write(pad.data(), static_cast<std::streamsize>(pad.size()));
                at += padded;
            }
        }
    }
    int const fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    auto const size = static_cast<std::size_t>(std::filesystem::file_size(path));
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    ASSERT_NE(map, MAP_FAILED);
    offload::model m;
    for (std::size_t l = 0; l < layers; ++l) {
        std::vector<offload::weight_buffer> wb;
        for (std::size_t b = 0; b < w.buffers[l].size(); ++b)
            wb.emplace_back(static_cast<std::byte const*>(map) + offsets[l][b], w.buffers[l][b].bytes());
        m.add_layer(std::move(wb));
    }
    ffn::cuda_stack stack(dims, stream_);
    auto const reference = resident_reference(w, stack, 5);
    {
        offload::config cfg = offload::presets::manual(1);
        cfg.host_memory_mode = offload::host_memory::register_caller;
        offload::layer_offloader<offload::backend::cuda, offload::residency::first_n, offload::prefetch::lookahead<2>,
                                 offload::profile::none>
            off(m, cfg, options());
        auto const s = off.statistics();
        EXPECT_TRUE(s.pin_memory_effective) << "read-only registration refused: " << (s.warnings.empty() ? "" : s.warnings[0]);
        EXPECT_GT(s.memory.registered_host_bytes, 0u);
        EXPECT_EQ(s.memory.pageable_host_bytes, 0u);
        EXPECT_TRUE(off.backend().is_page_locked(static_cast<std::byte const*>(map) + offsets[1][0]));
        for (int p = 0; p < 2; ++p) EXPECT_EQ(first_difference(offloaded_pass(off, stack, 5), reference), -1);
    }
    offload::backend::cuda probe(options());
    EXPECT_FALSE(probe.is_page_locked(static_cast<std::byte const*>(map) + offsets[1][0]));
    ::munmap(map, size);
    std::filesystem::remove(path);
}

}  // namespace
