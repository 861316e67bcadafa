#pragma once
// layer_offloader: runs a layer stack with some layers resident on the device
// and the rest streamed from host memory into a ring of staging slots ahead of
// their use. One scheduling code serves every backend; the policies decide
// which layers stay, how far copies run ahead and what is timed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include <offload/backend/concept.hpp>
#include <offload/backend/default.hpp>
#include <offload/capture/graph_pass.hpp>
#include <offload/codec/concept.hpp>
#include <offload/codec/detail/encoded_weights.hpp>
#include <offload/codec/none.hpp>
#include <offload/config.hpp>
#include <offload/detail/host_weights.hpp>
#include <offload/errors.hpp>
#include <offload/model.hpp>
#include <offload/prefetch/concept.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/concept.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/optional_hooks.hpp>
#include <offload/residency/concept.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/stats.hpp>
#include <offload/summary.hpp>

namespace offload {

namespace detail {

// Checks the policy arguments in order and reports only the first that is
// wrong, so that a mistake gives one message rather than a cascade.
template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
consteval bool policies_are_valid() {
    constexpr bool backend_ok = backend_type<Backend>;
    static_assert(backend_ok,
                  "offload::layer_offloader<Backend, ...>: Backend must be a backend such as "
                  "offload::backend::cuda or offload::backend::host (see offload::backend_type)");
    constexpr bool residency_ok = backend_ok && residency_policy<Residency>;
    static_assert(!backend_ok || residency_ok,
                  "offload::layer_offloader<..., Residency, ...>: Residency must be a residency policy such as "
                  "offload::residency::first_n, interleaved or budget (see offload::residency_policy)");
    constexpr bool prefetch_ok = residency_ok && prefetch_policy<Prefetch>;
    static_assert(!residency_ok || prefetch_ok,
                  "offload::layer_offloader<..., Prefetch, ...>: Prefetch must be a prefetch policy such as "
                  "offload::prefetch::lookahead<N>, next_layer or none (see offload::prefetch_policy)");
    constexpr bool profiler_ok = prefetch_ok && profiler_policy<Profiler>;
    static_assert(!prefetch_ok || profiler_ok,
                  "offload::layer_offloader<..., Profiler>: Profiler must be a profiler policy such as "
                  "offload::profile::events or offload::profile::none (see offload::profiler_policy)");
    constexpr bool codec_ok = profiler_ok && codec::codec_policy<Codec>;
    static_assert(!profiler_ok || codec_ok,
                  "offload::layer_offloader<..., Codec>: Codec must be a transfer codec such as "
                  "offload::codec::none, int8, fp8_e4m3, int4 or lossless_bf16 (see offload::codec::codec_policy)");
    return codec_ok;
}

// Stands in for an offloader whose policies were rejected, so that the
// rejection above is the only message.
struct rejected_offloader {
    template <class... Args>
    explicit rejected_offloader(Args&&...) {}
};

template <class Backend, class Residency, class Prefetch, class Profiler, class Codec>
class basic_offloader {
    using event_type = typename Backend::event_type;
    using recorder_type = typename Profiler::template recorder<Backend>;
    // Where streamed bytes come from and how they reach a slot: as they are,
    // or, under a codec, encoded into a staging area beside the slot and
    // decoded by the compute stream (copy_in, land and place are its hooks).
    using host_type = std::conditional_t<std::is_same_v<Codec, codec::none>, detail::host_weights<Backend>,
                                         codec::detail::encoded_weights<Backend, Codec>>;
    static constexpr std::size_t not_streamed = std::numeric_limits<std::size_t>::max();

public:
    using backend_type = Backend;
    using stream_type = typename Backend::stream_type;
    using residency_type = Residency;
    using prefetch_type = Prefetch;
    using profiler_type = Profiler;
    using codec_type = Codec;

    // What the user's compute sees of one layer: device pointers valid on stream().
    class layer_view {
    public:
        std::size_t index() const noexcept { return index_; }
        bool resident() const noexcept { return resident_; }
        std::size_t buffer_count() const noexcept { return layer_->buffers().size(); }
        std::size_t bytes(std::size_t b) const { return layer_->buffers().at(b).bytes; }
        void* buffer(std::size_t b) const {
            return static_cast<std::byte*>(base_) + layer_->offset(checked(b));
        }
        template <class T>
        T* buffer_as(std::size_t b) const {
            return static_cast<T*>(buffer(b));
        }
        stream_type stream() const noexcept { return stream_; }

    private:
        friend class basic_offloader;
        layer_view(std::size_t index, bool resident, layer_description const& layer, void* base, stream_type s)
            : index_(index), resident_(resident), layer_(&layer), base_(base), stream_(s) {}
        std::size_t checked(std::size_t b) const {
            if (b >= layer_->buffers().size())
                throw std::out_of_range("offload: layer " + std::to_string(index_) + " has no buffer " +
                                        std::to_string(b));
            return b;
        }
        std::size_t index_;
        bool resident_;
        layer_description const* layer_;
        void* base_;
        stream_type stream_;
    };

    // One walk over the layers. Dereferencing the iterator waits (on the compute
    // stream, not the host) for the layer's weights; advancing it releases the
    // layer and lets the copy stream refill its slot. Leaving the loop early,
    // by break or exception, abandons the pass: it is not counted, and every
    // slot is free again for the next one.
    class pass_range {
    public:
        struct sentinel {};
        class iterator {
        public:
            layer_view operator*() const { return owner_->acquire(); }
            iterator& operator++() {
                owner_->release();
                return *this;
            }
            bool operator==(sentinel) const noexcept { return owner_->next_layer_ == owner_->layers_.size(); }

        private:
            friend class pass_range;
            explicit iterator(basic_offloader* owner) : owner_(owner) {}
            basic_offloader* owner_;
        };

        pass_range(pass_range const&) = delete;
        pass_range& operator=(pass_range const&) = delete;
        // Abandons its own pass if that is still running, never a later one.
        ~pass_range() {
            if (owner_->in_pass_ && owner_->pass_serial_ == serial_) owner_->abandon_pass();
        }
        iterator begin() { return iterator(owner_); }
        sentinel end() const noexcept { return {}; }

    private:
        friend class basic_offloader;
        explicit pass_range(basic_offloader& owner) : owner_(&owner) {
            owner_->begin_pass();
            serial_ = owner_->pass_serial_;
        }
        basic_offloader* owner_;
        std::uint64_t serial_ = 0;
    };

    basic_offloader(model const& m, config cfg, typename Backend::options backend_options = {})
        : cfg_(std::move(cfg)), backend_(backend_options), layers_(checked_layers(m)),
          recorder_(backend_, layers_.size()) {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        try {
            plan();
            host_ = std::make_unique<host_type>(backend_, layers_, streamed_flags(), cfg_);
            if (!host_->fallback_warning().empty()) warnings_.push_back(host_->fallback_warning());
            place_resident_layers();
            allocate_slots();
        } catch (...) {
            free_device_memory();
            throw;
        }
    }

    basic_offloader(basic_offloader const&) = delete;
    basic_offloader& operator=(basic_offloader const&) = delete;

    // Waits for copies in flight, then frees everything; never throws.
    ~basic_offloader() {
        try {
            [[maybe_unused]] auto const on_device = backend_.on_device();
            synchronize();
            if constexpr (profile::tracing_recorder<recorder_type>)
                if (recorder_.trace() != nullptr) write_trace();
        } catch (std::exception const& e) {
            std::fprintf(stderr, "offload: %s (while destroying a layer_offloader)\n", e.what());
        }
        free_device_memory();
    }

    [[nodiscard]] pass_range pass() { return pass_range(*this); }

    // Runs fn(layer_view const&) for every layer, in order, as one pass.
    template <class Fn>
    void run_pass(Fn&& fn) {
        for (auto layer : pass()) fn(static_cast<layer_view const&>(layer));
    }

    // Records one pass of fn, as run_pass would run it, into a graph that
    // replays the whole pass with one launch (offload/capture/graph_pass.hpp).
    // fn must enqueue its work on the layer's stream and neither synchronise
    // the host nor allocate. Nothing runs now; counters advance per replay.
    template <class Fn>
    [[nodiscard]] graph_pass<basic_offloader> capture(Fn&& fn);

    // Blocks the host until all enqueued work of every stream is done.
    void synchronize() {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        backend_.synchronize(backend_.copy_stream());
        backend_.synchronize(backend_.writeback_stream());
        backend_.synchronize(backend_.compute_stream());
    }

    // Resolves the timings of every finished pass (synchronising with them).
    stats statistics() {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        stats s;
        s.backend = Backend::name;
        s.profiler = Profiler::name;
        s.profiler_measures_time = recorder_type::measures_time;
        s.residency = Residency::name;
        s.prefetch = Prefetch::name;
        s.codec = Codec::name;
        s.staging_slots = slots_.size();
        s.preset = cfg_.preset;
        s.num_layers_on_gpu = cfg_.num_layers_on_gpu;
        s.gpu_memory_budget = cfg_.gpu_memory_budget;
        s.pin_memory_requested = cfg_.pin_memory;
        s.pin_memory_effective = host_->pinned();
        s.host_memory = cfg_.host_memory_mode == host_memory::copy_to_pinned ? "copy_to_pinned" : "register_caller";
        for (std::size_t i = 0; i < layers_.size(); ++i) (resident_[i] ? s.resident_layers : s.streamed_layers).push_back(i);
        s.placement_reason = placement_reason_;
        s.warnings = warnings_;
        s.counts = counts_;
        s.memory = {resident_bytes_,          staging_bytes_,          host_->pinned_bytes(),
                    host_->pageable_bytes(),  host_->locked_bytes(),   host_->foreign_locked_bytes()};
        s.layers.resize(layers_.size());
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            auto& l = s.layers[i];
            l.index = i;
            l.resident = resident_[i];
            l.bytes = layers_[i].payload_bytes();
            l.loads = loads_[i];
        }
        host_->fill_stats(s);
        recorder_.fill(s);
        // Under a codec the link carries fewer bytes than it delivers.
        if (s.timing && s.timing->h2d_gb_per_s && counts_.bytes_host_to_device > 0)
            s.timing->effective_h2d_gb_per_s = *s.timing->h2d_gb_per_s *
                                               static_cast<double>(counts_.logical_bytes_host_to_device) /
                                               static_cast<double>(counts_.bytes_host_to_device);
        return s;
    }

    // Starts a Chrome/Perfetto trace of every pass from now on. The file is
    // opened here, so a path that cannot be written fails before the run.
    void trace_to(std::filesystem::path const& path)
        requires profile::tracing_recorder<recorder_type>
    {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        recorder_.trace_to(path);
    }
    // Writes the trace of the passes finished so far (the destructor does too).
    void write_trace()
        requires profile::tracing_recorder<recorder_type>
    {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        stats unused;
        recorder_.fill(unused);  // resolve the passes still in flight
        if (auto* t = recorder_.trace()) t->write();
    }

    // Forgets every counter and timing so far; the placement stays.
    void reset_statistics() {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        recorder_.reset();
        counts_ = {};
        std::fill(loads_.begin(), loads_.end(), 0);
    }

    // The host copy of a buffer: where a streamed layer's read-write buffer is
    // written back to (valid once synchronize() returns).
    void* host_buffer(std::size_t layer, std::size_t b) const { return host_->buffer(layer, b); }

    // Resident layers keep their read-write buffers on the device; this copies
    // them back to the caller's memory and returns once they are there.
    void write_back_resident() {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        // The copies must see the compute that wrote the buffers.
        backend_.synchronize(backend_.compute_stream());
        auto const s = backend_.copy_stream();
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            if (!resident_[i]) continue;
            auto const& l = layers_[i];
            for (std::size_t b = 0; b < l.buffers().size(); ++b)
                if (l.buffers()[b].mode == access::read_write)
                    backend_.copy_to_host(l.buffers()[b].data, static_cast<std::byte*>(resident_ptr_[i]) + l.offset(b),
                                          l.buffers()[b].bytes, s);
        }
        backend_.synchronize(s);
    }

    Backend& backend() noexcept { return backend_; }
    bool is_resident(std::size_t layer) const { return resident_.at(layer); }
    std::size_t layer_count() const noexcept { return layers_.size(); }
    std::size_t staging_slots() const noexcept { return slots_.size(); }

private:
    template <class>
    friend class offload::graph_pass;

    struct slot {
        void* device = nullptr;
        void* staging = nullptr;  // encoded bytes, under a codec
        event_type ready{};     // the copy into the slot is done (copy stream)
        event_type computed{};  // the compute that read it is done (compute stream)
        event_type freed{};     // the slot may be overwritten (after compute, or after write-back)
    };

    static std::vector<layer_description> const& checked_layers(model const& m) {
        if (m.empty()) throw configuration_error("offload: the model has no layers");
        return m.layers();
    }

    std::vector<bool> streamed_flags() const {
        std::vector<bool> s(resident_.size());
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = !resident_[i];
        return s;
    }

    void plan() {
        std::vector<std::size_t> footprints;
        for (auto const& l : layers_) footprints.push_back(l.footprint());
        residency::placement const p =
            Residency::place({footprints, Prefetch::slots, cfg_, backend_.device_free_bytes()});
        if (p.resident.size() != layers_.size())
            throw configuration_error(std::string("offload: residency policy ") + Residency::name +
                                      " returned a placement for the wrong number of layers");
        resident_ = p.resident;
        placement_reason_ = p.reason;
        warnings_ = p.warnings;
        stream_position_.assign(layers_.size(), not_streamed);
        for (std::size_t i = 0; i < layers_.size(); ++i)
            if (!resident_[i]) {
                stream_position_[i] = streamed_.size();
                streamed_.push_back(i);
            }
        loads_.assign(layers_.size(), 0);
        resident_ptr_.assign(layers_.size(), nullptr);
    }

    void place_resident_layers() {
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            if (!resident_[i]) continue;
            resident_ptr_[i] = backend_.device_allocate(layers_[i].footprint(), "placing resident layer " + std::to_string(i));
            resident_bytes_ += layers_[i].footprint();
        }
        host_->place(resident_ptr_, backend_.copy_stream());
    }

    void allocate_slots() {
        join_ = backend_.event_create(false);
        if (streamed_.empty()) return;
        if (Prefetch::slots == 0)
            throw configuration_error(std::string("offload: prefetch policy ") + Prefetch::name +
                                      " has no staging slots, and " + std::to_string(streamed_.size()) +
                                      " layers must stream");
        std::size_t slot_bytes = 0;
        for (std::size_t i : streamed_) slot_bytes = std::max(slot_bytes, layers_[i].footprint());
        staging_area_bytes_ = host_->staging_bytes();
        std::size_t const count = std::min(Prefetch::slots, streamed_.size());
        slot_bytes_ = slot_bytes;  // before the first allocation: free_device_memory frees slots of this size
        slots_.resize(count);
        for (std::size_t k = 0; k < count; ++k) {
            auto& sl = slots_[k];
            sl.device = backend_.device_allocate(slot_bytes, "allocating staging slot " + std::to_string(k) + " of " +
                                                                 std::to_string(count));
            staging_bytes_ += slot_bytes;
            if (staging_area_bytes_ > 0) {
                sl.staging = backend_.device_allocate(staging_area_bytes_, "allocating the encoded staging area of slot " +
                                                                                std::to_string(k));
                staging_bytes_ += staging_area_bytes_;
            }
            sl.ready = backend_.event_create(false);
            sl.computed = backend_.event_create(false);
            sl.freed = backend_.event_create(false);
        }
        written_back_.assign(layers_.size(), event_type{});
        for (std::size_t i : streamed_)
            if (layers_[i].writes_back()) written_back_[i] = backend_.event_create(false);
        prefetched_bytes_.assign(count, 0);
    }

    void free_device_memory() noexcept {
        for (std::size_t i = 0; i < resident_ptr_.size(); ++i)
            backend_.device_deallocate(resident_ptr_[i], layers_[i].footprint());
        resident_ptr_.clear();
        for (auto& sl : slots_) {
            backend_.device_deallocate(sl.device, slot_bytes_);
            backend_.device_deallocate(sl.staging, staging_area_bytes_);
            event_type const events[] = {sl.ready, sl.computed, sl.freed};
            for (auto e : events)
                if (e != event_type{}) backend_.event_destroy(e);
        }
        slots_.clear();
        for (auto e : written_back_)
            if (e != event_type{}) backend_.event_destroy(e);
        written_back_.clear();
        if (join_ != event_type{}) backend_.event_destroy(join_);
        join_ = event_type{};
    }

    // --- one pass ---------------------------------------------------------

    void begin_pass() {
        if (in_pass_) throw configuration_error("offload: a pass is already running on this offloader");
        [[maybe_unused]] auto const on_device = backend_.on_device();
        ++pass_serial_;
        next_layer_ = 0;
        acquired_ = false;
        pass_wrote_back_ = false;
        try {
            recorder_.pass_begin(backend_.compute_stream());
            in_pass_ = true;
            if constexpr (Prefetch::run_ahead) {
                // The last pass may have issued the first copies already.
                std::size_t const issued = std::exchange(prefetched_, 0);
                for (std::size_t j = 0; j < issued; ++j) count_load(j, prefetched_bytes_[j]);
                for (std::size_t j = issued; j < slots_.size(); ++j) count_load(j, issue_copy(j));
            }
        } catch (backend_error const& e) {
            // No pass object will exist to abandon it: leave the offloader ready for another.
            if (in_pass_) abandon_pass();
            throw e.within("beginning a pass");
        }
    }

    layer_view acquire() {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        try {
            return acquire_unchecked();
        } catch (backend_error const& e) {
            throw e.within("layer " + std::to_string(next_layer_) + ", waiting for its weights");
        }
    }

    void release() {
        [[maybe_unused]] auto const on_device = backend_.on_device();
        try {
            release_unchecked();
        } catch (backend_error const& e) {
            throw e.within("layer " + std::to_string(next_layer_) + ", releasing it after its compute");
        }
    }

    layer_view acquire_unchecked() {
        std::size_t const i = next_layer_;
        auto const compute = backend_.compute_stream();
        if (resident_[i]) {
            if (!acquired_) recorder_.compute_begin(i, compute);
            acquired_ = true;
            return layer_view(i, true, layers_[i], resident_ptr_[i], compute);
        }
        std::size_t const j = stream_position_[i];
        auto& sl = slot_for(j);
        if (!acquired_) {
            if constexpr (!Prefetch::run_ahead) count_load(j, issue_copy(j));
            recorder_.wait_begin(i, compute);
            backend_.wait(compute, sl.ready);
            host_->land(i, sl.staging, sl.device, compute, recorder_);
            recorder_.compute_begin(i, compute);
            acquired_ = true;
        }
        return layer_view(i, false, layers_[i], sl.device, compute);
    }

    void release_unchecked() {
        if (!acquired_) acquire_unchecked();
        std::size_t const i = next_layer_;
        auto const compute = backend_.compute_stream();
        recorder_.compute_end(i, compute);
        ++counts_.layer_computes;
        if (!resident_[i]) {
            std::size_t const j = stream_position_[i];
            auto& sl = slot_for(j);
            if (layers_[i].writes_back())
                write_back(i, sl);
            else
                backend_.record(sl.freed, compute);
            if constexpr (Prefetch::run_ahead) {
                std::size_t const ahead = j + slots_.size();
                if (ahead < streamed_.size())
                    count_load(ahead, issue_copy(ahead));
                else if (cfg_.prefetch_across_passes && !capturing_)
                    prefetched_bytes_[prefetched_++] = issue_copy(ahead);
            }
        }
        acquired_ = false;
        if (++next_layer_ == layers_.size()) end_pass();
    }

    void write_back(std::size_t i, slot& sl) {
        auto const wb = backend_.writeback_stream();
        backend_.record(sl.computed, backend_.compute_stream());
        backend_.wait(wb, sl.computed);
        recorder_.release_begin(i, wb);
        auto const& l = layers_[i];
        std::size_t bytes = 0;
        for (std::size_t b = 0; b < l.buffers().size(); ++b) {
            if (l.buffers()[b].mode != access::read_write) continue;
            backend_.copy_to_host(host_->buffer(i, b), static_cast<std::byte*>(sl.device) + l.offset(b),
                                  l.buffers()[b].bytes, wb);
            bytes += l.buffers()[b].bytes;
        }
        recorder_.release_end(i, bytes, wb);
        backend_.record(written_back_[i], wb);
        backend_.record(sl.freed, wb);
        counts_.bytes_device_to_host += bytes;
        pass_wrote_back_ = true;
    }

    // The ring is circular in time too: streamed position j of this pass, and
    // position j - streamed_.size() of the next one, both use slot_for(j).
    slot& slot_for(std::size_t j) { return slots_[(ring_base_ + j) % slots_.size()]; }

    // Copies streamed position j (of the next pass, for j past this pass's
    // last) into its slot and returns the bytes moved.
    std::size_t issue_copy(std::size_t j) {
        bool const for_next_pass = j >= streamed_.size();
        std::size_t const i = streamed_[j % streamed_.size()];
        auto& sl = slot_for(j);
        auto const copy = backend_.copy_stream();
        backend_.wait(copy, sl.freed);
        // The host bytes must hold the last write-back before they are read again.
        if (layers_[i].writes_back()) backend_.wait(copy, written_back_[i]);
        if (for_next_pass)
            profile::next_pass_copy_begin(recorder_, i, copy);
        else
            recorder_.copy_begin(i, copy);
        std::size_t const bytes = host_->copy_in(i, sl.device, sl.staging, copy);
        if (for_next_pass)
            profile::next_pass_copy_end(recorder_, i, bytes, copy);
        else
            recorder_.copy_end(i, bytes, copy);
        backend_.record(sl.ready, copy);
        return bytes;
    }

    // A copy counts for the pass that uses it, once that pass has begun.
    void count_load(std::size_t j, std::size_t bytes) {
        std::size_t const i = streamed_[j];
        ++counts_.layer_loads;
        ++loads_[i];
        counts_.bytes_host_to_device += bytes;
        counts_.logical_bytes_host_to_device += layers_[i].payload_bytes();
    }

    void end_pass() {
        auto const compute = backend_.compute_stream();
        // A pass ends when its write-backs are done too.
        if (pass_wrote_back_) {
            backend_.record(join_, backend_.writeback_stream());
            backend_.wait(compute, join_);
        }
        recorder_.pass_end(compute);
        ++counts_.passes;
        in_pass_ = false;
        if (!slots_.empty()) ring_base_ = (ring_base_ + streamed_.size()) % slots_.size();
        if (!capturing_ && cfg_.summary_every != 0 && counts_.passes % cfg_.summary_every == 0)
            write_summary(cfg_.summary_stream != nullptr ? *cfg_.summary_stream : std::clog, statistics());
    }

    // Called when a pass is left before its last layer. Whatever the user's
    // compute enqueued may still read a slot: every slot is freed only after
    // it, and the host waits until all streams are idle so that nothing of the
    // broken pass is left in flight.
    void abandon_pass() noexcept {
        in_pass_ = false;
        ++counts_.aborted_passes;
        recorder_.pass_abort();
        if (capturing_) return;  // nothing of a recording has run; the capture is abandoned by its caller
        try {
            [[maybe_unused]] auto const on_device = backend_.on_device();
            for (auto& sl : slots_) backend_.record(sl.freed, backend_.compute_stream());
            synchronize();
        } catch (std::exception const& e) {
            std::fprintf(stderr, "offload: %s (while abandoning a pass)\n", e.what());
        }
        // Copies issued for the next pass are done and will not be used.
        counts_.unused_prefetches += std::exchange(prefetched_, 0);
    }

    // --- graphs: defined in offload/capture/detail/graph_steps.hpp -----------

    // Copies issued for a next pass that a graph replaces are waited for and dropped.
    void settle_before_graph();
    // One recording of a pass under stream capture.
    template <class Fn>
    auto record_graph(Fn& fn, std::size_t copy);
    void join_into_compute();
    // The events eager passes wait for, recorded again after the compute stream's work so far.
    void order_after_compute();
    void replay(graph_pass<basic_offloader>& g);

    config cfg_;
    Backend backend_;
    std::vector<layer_description> layers_;
    [[no_unique_address]] recorder_type recorder_;

    std::vector<bool> resident_;
    std::vector<std::size_t> streamed_;         // streamed layers in pass order
    std::vector<std::size_t> stream_position_;  // layer -> index in streamed_
    std::vector<void*> resident_ptr_;
    std::vector<slot> slots_;
    std::size_t slot_bytes_ = 0;
    std::size_t staging_area_bytes_ = 0;  // beside each slot, for encoded bytes (0 without a codec)
    std::vector<event_type> written_back_;  // per read-write streamed layer
    event_type join_{};  // orders one stream after another's work so far (recorded, then waited at once)
    std::unique_ptr<host_type> host_;

    std::string placement_reason_;
    std::vector<std::string> warnings_;
    counters counts_;
    std::vector<std::size_t> loads_;
    std::size_t resident_bytes_ = 0;
    std::size_t staging_bytes_ = 0;

    std::size_t next_layer_ = 0;
    std::uint64_t pass_serial_ = 0;  // which pass a pass_range belongs to
    std::size_t ring_base_ = 0;      // the slot of this pass's first streamed layer
    std::size_t prefetched_ = 0;     // copies issued for the next pass's first streamed layers
    std::vector<std::size_t> prefetched_bytes_;  // the bytes each of them moved
    std::uint64_t replays_ = 0;      // picks which copy of a graph a replay launches
    bool capturing_ = false;
    bool acquired_ = false;
    bool in_pass_ = false;
    bool pass_wrote_back_ = false;
};

}  // namespace detail

template <class Backend = backend::default_backend, class Residency = residency::first_n,
          class Prefetch = prefetch::lookahead<4>, class Profiler = profile::events, class Codec = codec::none>
using layer_offloader =
    std::conditional_t<detail::policies_are_valid<Backend, Residency, Prefetch, Profiler, Codec>(),
                       detail::basic_offloader<Backend, Residency, Prefetch, Profiler, Codec>,
                       detail::rejected_offloader>;

}  // namespace offload

#include <offload/capture/detail/graph_steps.hpp>
