#pragma once
// Page-aligned host memory for a rank's shard: its pages land on the NUMA node
// of the thread that first touches them (numa.hpp), and the offloader copies
// them to pinned memory of its own.
#include <cstddef>
#include <memory>
#include <new>

namespace offload_examples::tp {

struct page_deleter {
    void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{4096}); }
};
using page_block = std::unique_ptr<void, page_deleter>;

inline page_block allocate_pages(std::size_t bytes) {
    return page_block(::operator new((bytes + 4095) / 4096 * 4096, std::align_val_t{4096}));
}

}  // namespace offload_examples::tp
