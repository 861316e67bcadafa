#pragma once
// The host side of a transfer codec: every layer encoded once, when the
// offloader is built, into one pinned block in the encoded layout (see
// encoded_layer.hpp). Streamed layers are copied from it on every pass;
// resident layers once, at placement, after which their blocks are freed.
// Layers are encoded on several threads: an 8B model is gigabytes of weights.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <offload/codec/detail/encoded_layer.hpp>
#include <offload/config.hpp>
#include <offload/model.hpp>
#include <offload/stats.hpp>

namespace offload::codec::detail {

template <class Backend, class Codec>
class encoded_weights {
public:
    encoded_weights(Backend& backend, std::vector<layer_description> const& layers, std::vector<bool> const& streamed,
                    config const& cfg)
        : backend_(backend), layers_(layers), encoded_(layers.size()), pinned_(layers.size(), nullptr) {
        encode_all(layers);
        for (std::size_t i = 0; i < layers.size(); ++i) {
            if (streamed[i]) staging_bytes_ = std::max(staging_bytes_, block_span(i));
            auto const bytes = encoded_[i].bytes.size();
            if (cfg.pin_memory) pinned_[i] = static_cast<std::byte*>(backend_.pinned_allocate(bytes));
            if (pinned_[i] != nullptr) {
                std::memcpy(pinned_[i], encoded_[i].bytes.data(), bytes);
                encoded_[i].bytes = {};
                pinned_bytes_ += bytes;
            } else {
                pageable_bytes_ += bytes;
            }
        }
        if (pageable_bytes_ > 0 && cfg.pin_memory)
            warning_ = "page-locked host memory was refused (cudaHostAlloc) for some encoded layers; those stream "
                       "from pageable memory, which is slower and does not overlap compute";
    }
    encoded_weights(encoded_weights const&) = delete;
    encoded_weights& operator=(encoded_weights const&) = delete;
    ~encoded_weights() {
        for (auto* p : pinned_)
            if (p != nullptr) backend_.pinned_deallocate(p);
    }

    bool pinned() const noexcept { return pageable_bytes_ == 0; }
    std::string const& fallback_warning() const noexcept { return warning_; }
    std::size_t pinned_bytes() const noexcept { return pinned_bytes_; }
    std::size_t pageable_bytes() const noexcept { return pageable_bytes_; }
    std::size_t locked_bytes() const noexcept { return 0; }
    std::size_t foreign_locked_bytes() const noexcept { return 0; }

    // The encoded block, moved by one copy.
    std::byte* layer_block(std::size_t i) const noexcept {
        return pinned_[i] != nullptr ? pinned_[i] : const_cast<std::byte*>(encoded_[i].bytes.data());
    }
    std::size_t block_span(std::size_t i) const noexcept {
        auto const& b = encoded_[i].buffers;
        return b.empty() ? 0 : b.back().offset + b.back().bytes;
    }
    // Read-write buffers are kept raw: the write-back lands where the next copy reads.
    void* buffer(std::size_t i, std::size_t b) const noexcept { return layer_block(i) + encoded_[i].buffers[b].offset; }

    // Every buffer of layer i from its encoded bytes at `from` (on the device)
    // into the slot layout at `to`, in order on stream s: raw buffers by a
    // device copy, encoded ones by the backend's decode.
    void decode(std::size_t i, void const* from, void* to, typename Backend::stream_type s) {
        auto const& l = layers_[i];
        auto const& e = encoded_[i];
        for (std::size_t b = 0; b < l.buffers().size(); ++b) {
            auto const& eb = e.buffers[b];
            auto const* src = static_cast<std::byte const*>(from) + eb.offset;
            auto* dst = static_cast<std::byte*>(to) + l.offset(b);
            if (eb.how == format::none)
                backend_.copy_on_device(dst, src, eb.bytes, s);
            else
                backend_.decode(eb.how, eb.tensor, src, eb.bytes, dst, s);
        }
    }

    // Bytes one copy of each layer moves, and every buffer the codec encoded.
    void fill_stats(stats& s) const {
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            auto const& e = encoded_[i];
            std::size_t moved = 0;
            for (std::size_t b = 0; b < e.buffers.size(); ++b) {
                auto const& eb = e.buffers[b];
                moved += eb.bytes;
                if (eb.how != format::none)
                    s.codec_buffers.push_back({i, b, eb.tensor.name, format_name(eb.how),
                                               layers_[i].buffers()[b].bytes, eb.bytes, eb.relative_l2});
            }
            s.layers[i].moved_bytes = moved;
        }
    }

    // --- the scheduler's hooks (host_weights has the same) -----------------

    // Device bytes a slot needs beside it: the largest encoded streamed layer.
    std::size_t staging_bytes() const noexcept { return staging_bytes_; }

    // Copies a streamed layer's encoded block into the slot's staging area on
    // stream s; returns the bytes moved.
    std::size_t copy_in(std::size_t i, void* /*slot*/, void* staging, typename Backend::stream_type s) {
        backend_.copy_to_device(staging, layer_block(i), block_span(i), s);
        return block_span(i);
    }

    // Once the copy has landed: decoded into the slot on the compute stream,
    // which keeps the copy engine free for the next copy.
    template <class Recorder>
    void land(std::size_t i, void const* staging, void* slot, typename Backend::stream_type s, Recorder& recorder) {
        recorder.decode_begin(i, s);
        decode(i, staging, slot, s);
        recorder.decode_end(i, s);
    }

    // Decodes each resident layer (non-null in `devices`) once, from the same
    // encoded bytes a streamed layer would bring, so that output does not
    // depend on placement; then frees its host copy.
    void place(std::vector<void*> const& devices, typename Backend::stream_type s) {
        std::size_t most = 0;
        for (std::size_t i = 0; i < layers_.size(); ++i)
            if (devices[i] != nullptr) most = std::max(most, block_span(i));
        if (most == 0) return;
        void* staging = backend_.device_allocate(most, "staging the encoded resident layers");
        try {
            for (std::size_t i = 0; i < layers_.size(); ++i) {
                if (devices[i] == nullptr) continue;
                backend_.copy_to_device(staging, layer_block(i), block_span(i), s);
                decode(i, staging, devices[i], s);
                backend_.synchronize(s);
                drop(i);
            }
        } catch (...) {
            backend_.device_deallocate(staging, most);
            throw;
        }
        backend_.device_deallocate(staging, most);
    }

private:
    // A resident layer, once placed, needs its host copy no more.
    void drop(std::size_t i) noexcept {
        if (pinned_[i] != nullptr) {
            backend_.pinned_deallocate(pinned_[i]);
            pinned_bytes_ -= block_span(i);
            pinned_[i] = nullptr;
        } else {
            pageable_bytes_ -= encoded_[i].bytes.size();
        }
        encoded_[i].bytes = {};
        encoded_[i].bytes.shrink_to_fit();
    }

    void encode_all(std::vector<layer_description> const& layers) {
        std::size_t const workers =
            std::max<std::size_t>(1, std::min<std::size_t>(std::thread::hardware_concurrency(), layers.size()));
        std::vector<std::exception_ptr> failures(workers);
        std::vector<std::thread> threads;
        for (std::size_t w = 0; w < workers; ++w)
            threads.emplace_back([&, w] {
                try {
                    for (std::size_t i = w; i < layers.size(); i += workers) encoded_[i] = encode_layer<Codec>(layers[i], i);
                } catch (...) {
                    failures[w] = std::current_exception();
                }
            });
        for (auto& t : threads) t.join();
        for (auto const& f : failures)
            if (f) std::rethrow_exception(f);
    }

    Backend& backend_;
    std::vector<layer_description> const& layers_;
    std::vector<encoded_layer> encoded_;
    std::vector<std::byte*> pinned_;
    std::size_t pinned_bytes_ = 0;
    std::size_t pageable_bytes_ = 0;
    std::size_t staging_bytes_ = 0;  // the largest encoded streamed layer
    std::string warning_;
};

}  // namespace offload::codec::detail
