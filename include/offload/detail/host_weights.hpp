#pragma once
// Where each streamed layer's bytes come from on the host. Pinned copies are
// laid out like the device slot, so that one copy moves a whole layer; caller
// memory (registered in place, or pageable after a refused pin) is copied
// buffer by buffer. Page-locking that the system refuses falls back to
// pageable memory for every layer, and says so once.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <string>
#include <vector>

#include <offload/backend/concept.hpp>
#include <offload/config.hpp>
#include <offload/model.hpp>
#include <offload/stats.hpp>
#include <offload/detail/page_locks.hpp>

namespace offload::detail {

template <class Backend>
class host_weights {
public:
    host_weights(Backend& backend, std::vector<layer_description> const& layers, std::vector<bool> const& streamed,
                 config const& cfg)
        : backend_(backend), layers_(layers), pinned_(layers.size(), nullptr), blocks_(layers.size(), nullptr) {
        find_caller_blocks(streamed);
        if (!cfg.pin_memory) {
            count_pageable(streamed);
            return;
        }
        bool const ok = cfg.host_memory_mode == host_memory::copy_to_pinned ? pin_copies(streamed)
                                                                            : register_caller(streamed);
        if (ok) {
            pinned_ok_ = true;
            return;
        }
        warning_ = std::string("page-locked host memory was refused (") +
                   (cfg.host_memory_mode == host_memory::copy_to_pinned ? "cudaHostAlloc" : "cudaHostRegister") +
                   "); streaming from pageable memory, which is slower and does not overlap compute";
        count_pageable(streamed);
    }
    host_weights(host_weights const&) = delete;
    host_weights& operator=(host_weights const&) = delete;
    ~host_weights() { release_all(); }

    bool pinned() const noexcept { return pinned_ok_; }
    std::string const& fallback_warning() const noexcept { return warning_; }
    std::size_t pinned_bytes() const noexcept { return pinned_bytes_; }
    std::size_t pageable_bytes() const noexcept { return pageable_bytes_; }
    // register_caller: bytes of caller memory page-locked by an offloader
    // (shared with others over the same memory), and already locked by someone else.
    std::size_t locked_bytes() const noexcept { return locked_bytes_; }
    std::size_t foreign_locked_bytes() const noexcept { return foreign_locked_bytes_; }

    // Bytes one copy of each layer moves.
    void fill_stats(stats& s) const {
        for (std::size_t i = 0; i < layers_.size(); ++i)
            s.layers[i].moved_bytes = layer_block(i) != nullptr ? block_span(i) : layers_[i].payload_bytes();
    }

    // The whole layer in slot layout (a pinned copy, or the caller's memory when
    // its buffers already sit at the slot's offsets), so that one copy moves it;
    // nullptr when the layer is copied buffer by buffer.
    std::byte* layer_block(std::size_t layer) const noexcept {
        return pinned_[layer] != nullptr ? pinned_[layer] : blocks_[layer];
    }
    // The host bytes a layer's buffer streams from and is written back to.
    void* buffer(std::size_t layer, std::size_t b) const noexcept {
        if (pinned_[layer] != nullptr) return pinned_[layer] + layers_[layer].offset(b);
        return layers_[layer].buffers()[b].data;
    }
    // Bytes one copy of a pinned block moves: up to the end of its last buffer.
    std::size_t block_span(std::size_t layer) const noexcept {
        auto const& l = layers_[layer];
        std::size_t const last = l.buffers().size() - 1;
        return l.offset(last) + l.buffers()[last].bytes;
    }

    // --- the scheduler's hooks (a codec's host side has the same) ---------

    // Device bytes a slot needs beside it: none, a copy lands in the slot.
    std::size_t staging_bytes() const noexcept { return 0; }

    // Copies a streamed layer into its slot on stream s; returns the bytes moved.
    std::size_t copy_in(std::size_t layer, void* slot, void* /*staging*/, typename Backend::stream_type s) {
        if (std::byte const* block = layer_block(layer)) {
            backend_.copy_to_device(slot, block, block_span(layer), s);
            return block_span(layer);
        }
        auto const& l = layers_[layer];
        std::size_t bytes = 0;
        for (std::size_t b = 0; b < l.buffers().size(); ++b) {
            backend_.copy_to_device(static_cast<std::byte*>(slot) + l.offset(b), l.buffers()[b].data,
                                    l.buffers()[b].bytes, s);
            bytes += l.buffers()[b].bytes;
        }
        return bytes;
    }

    // Once the copy has landed, the slot holds the weights: nothing to do.
    template <class Recorder>
    void land(std::size_t, void const* /*staging*/, void* /*slot*/, typename Backend::stream_type, Recorder&) noexcept {}

    // Copies each resident layer (non-null in `devices`) to its device memory,
    // one at a time, so that caller memory may be pageable.
    void place(std::vector<void*> const& devices, typename Backend::stream_type s) {
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            if (devices[i] == nullptr) continue;
            auto const& l = layers_[i];
            for (std::size_t b = 0; b < l.buffers().size(); ++b)
                backend_.copy_to_device(static_cast<std::byte*>(devices[i]) + l.offset(b), l.buffers()[b].data,
                                        l.buffers()[b].bytes, s);
            backend_.synchronize(s);
        }
    }

private:
    // Caller memory laid out like a slot (buffer b at offset(b) from buffer 0)
    // is copied in one piece: one copy a layer instead of one a buffer.
    void find_caller_blocks(std::vector<bool> const& streamed) {
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            if (!streamed[i]) continue;
            auto const& l = layers_[i];
            auto* first = static_cast<std::byte*>(l.buffers()[0].data);
            bool in_slot_layout = true;
            for (std::size_t b = 1; b < l.buffers().size(); ++b)
                in_slot_layout = in_slot_layout && static_cast<std::byte*>(l.buffers()[b].data) == first + l.offset(b);
            if (in_slot_layout) blocks_[i] = first;
        }
    }

    bool pin_copies(std::vector<bool> const& streamed) {
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            if (!streamed[i]) continue;
            std::size_t const span = block_span(i);
            auto* block = static_cast<std::byte*>(backend_.pinned_allocate(span));
            if (block == nullptr) {
                release_all();
                return false;
            }
            pinned_[i] = block;
            pinned_bytes_ += span;
            auto const& l = layers_[i];
            for (std::size_t b = 0; b < l.buffers().size(); ++b)
                std::memcpy(block + l.offset(b), l.buffers()[b].data, l.buffers()[b].bytes);
        }
        return true;
    }
    // The system page-locks whole pages and refuses a page twice, so buffers
    // that share a page are locked as one page-aligned range; a range that
    // holds no read-write buffer is locked read-only, as a read-only file
    // mapping must be.
    bool register_caller(std::vector<bool> const& streamed) {
        struct range {
            std::uintptr_t begin, end;
            bool writable;
        };
        std::vector<range> ranges;
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            if (!streamed[i]) continue;
            for (auto const& b : layers_[i].buffers()) {
                auto const begin = reinterpret_cast<std::uintptr_t>(b.data);
                ranges.push_back({begin / page_bytes * page_bytes, (begin + b.bytes + page_bytes - 1) / page_bytes * page_bytes,
                                  b.mode == access::read_write});
            }
        }
        std::sort(ranges.begin(), ranges.end(), [](range const& x, range const& y) { return x.begin < y.begin; });
        std::vector<range> merged;
        for (auto r : ranges) {
            if (!merged.empty() && r.begin <= merged.back().end) {
                merged.back().end = std::max(merged.back().end, r.end);
                merged.back().writable = merged.back().writable || r.writable;
            } else {
                merged.push_back(r);
            }
        }
        auto& table = page_lock_table<Backend>::instance();
        for (auto const& r : merged) {
            auto const got = table.lock(backend_, r.begin, r.end, !r.writable, locked_);
            if (got.refused) {
                release_all();
                return false;
            }
            locked_bytes_ += got.locked;
            foreign_locked_bytes_ += got.foreign;
        }
        pinned_bytes_ = locked_bytes_ + foreign_locked_bytes_;
        return true;
    }
    void count_pageable(std::vector<bool> const& streamed) {
        for (std::size_t i = 0; i < layers_.size(); ++i)
            if (streamed[i]) pageable_bytes_ += layers_[i].payload_bytes();
    }
    void release_all() noexcept {
        for (auto& p : pinned_) {
            if (p != nullptr) backend_.pinned_deallocate(p);
            p = nullptr;
        }
        page_lock_table<Backend>::instance().release(backend_, locked_);
        locked_.clear();
        pinned_bytes_ = locked_bytes_ = foreign_locked_bytes_ = 0;
    }

    Backend& backend_;
    std::vector<layer_description> const& layers_;
    std::vector<std::byte*> pinned_;
    std::vector<std::byte*> blocks_;  // caller memory already in slot layout
    std::vector<std::uintptr_t> locked_;  // ranges of the page-lock table this offloader holds
    std::size_t pinned_bytes_ = 0;
    std::size_t locked_bytes_ = 0;
    std::size_t foreign_locked_bytes_ = 0;
    std::size_t pageable_bytes_ = 0;
    std::string warning_;
    bool pinned_ok_ = false;
};

}  // namespace offload::detail
