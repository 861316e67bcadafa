#pragma once
#include <cstddef>
#include <type_traits>

#include <offload/profile/concept.hpp>

namespace offload::profile {

// Measures nothing: creates and records no event, adds no bytes, and the stats
// say "profiler": "none" with every timing field absent.
struct none {
    using policy_kind = offload::policy_kind::profiler;
    static constexpr char const* name = "none";

    template <class Backend>
    struct recorder {
        static constexpr bool measures_time = false;
        explicit recorder(Backend&, std::size_t /*layers*/) noexcept {}
        template <class Stream> void pass_begin(Stream) noexcept {}
        template <class Stream> void copy_begin(std::size_t, Stream) noexcept {}
        template <class Stream> void copy_end(std::size_t, std::size_t, Stream) noexcept {}
        template <class Stream> void wait_begin(std::size_t, Stream) noexcept {}
        template <class Stream> void decode_begin(std::size_t, Stream) noexcept {}
        template <class Stream> void decode_end(std::size_t, Stream) noexcept {}
        template <class Stream> void compute_begin(std::size_t, Stream) noexcept {}
        template <class Stream> void compute_end(std::size_t, Stream) noexcept {}
        template <class Stream> void release_begin(std::size_t, Stream) noexcept {}
        template <class Stream> void release_end(std::size_t, std::size_t, Stream) noexcept {}
        template <class Stream> void pass_end(Stream) noexcept {}
        void pass_abort() noexcept {}
        void fill(stats&) noexcept {}
        void reset() noexcept {}
    };
};

static_assert(profiler_policy<none>);
static_assert(std::is_empty_v<none::recorder<struct none_probe_backend>>);

}  // namespace offload::profile
