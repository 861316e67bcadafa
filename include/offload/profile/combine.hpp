#pragma once
// profile::combine<P...>: several profilers at once (events and NVTX, say)
// without writing a new one. Each hook goes to every recorder in order; the
// stats get what each one fills, and the name lists them joined by '+'.
#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <string_view>
#include <type_traits>
#include <utility>

#include <offload/profile/concept.hpp>
#include <offload/profile/optional_hooks.hpp>
#include <offload/profile/trace.hpp>

namespace offload::profile {

namespace detail {

template <class... Profilers>
struct joined_name {
    static constexpr auto storage = [] {
        constexpr std::size_t length = (std::string_view(Profilers::name).size() + ... + 0) + sizeof...(Profilers);
        std::array<char, length> out{};
        std::size_t at = 0;
        ((at = (at == 0 ? 0 : (out[at - 1] = '+', at)),
          [&] {
              for (char c : std::string_view(Profilers::name)) out[at++] = c;
              ++at;
          }()),
         ...);
        out[length - 1] = '\0';
        return out;
    }();
};

// Recorders are neither copyable nor movable (they own events), so they are
// bases constructed in place rather than tuple elements.
template <class Backend, class... Profilers>
class combined_recorder : private Profilers::template recorder<Backend>... {
public:
    static constexpr bool measures_time = (Profilers::template recorder<Backend>::measures_time || ...);
    combined_recorder(Backend& backend, std::size_t layers)
        : Profilers::template recorder<Backend>(backend, layers)... {}

    template <class... Args> void pass_begin(Args... a) { each([&](auto& r) { r.pass_begin(a...); }); }
    template <class... Args> void copy_begin(Args... a) { each([&](auto& r) { r.copy_begin(a...); }); }
    template <class... Args> void copy_end(Args... a) { each([&](auto& r) { r.copy_end(a...); }); }
    template <class... Args> void wait_begin(Args... a) { each([&](auto& r) { r.wait_begin(a...); }); }
    template <class... Args> void decode_begin(Args... a) { each([&](auto& r) { r.decode_begin(a...); }); }
    template <class... Args> void decode_end(Args... a) { each([&](auto& r) { r.decode_end(a...); }); }
    template <class... Args> void compute_begin(Args... a) { each([&](auto& r) { r.compute_begin(a...); }); }
    template <class... Args> void compute_end(Args... a) { each([&](auto& r) { r.compute_end(a...); }); }
    template <class... Args> void release_begin(Args... a) { each([&](auto& r) { r.release_begin(a...); }); }
    template <class... Args> void release_end(Args... a) { each([&](auto& r) { r.release_end(a...); }); }
    template <class... Args> void pass_end(Args... a) { each([&](auto& r) { r.pass_end(a...); }); }
    void pass_abort() noexcept { each([](auto& r) { r.pass_abort(); }); }
    static constexpr std::size_t graph_records =
        std::max({std::size_t{1}, profile::graph_records<typename Profilers::template recorder<Backend>>()...});
    void next_pass_copy_begin(std::size_t layer, auto s) {
        each([&](auto& r) { profile::next_pass_copy_begin(r, layer, s); });
    }
    void next_pass_copy_end(std::size_t layer, std::size_t bytes, auto s) {
        each([&](auto& r) { profile::next_pass_copy_end(r, layer, bytes, s); });
    }
    void drop_next_pass() noexcept { each([](auto& r) { profile::drop_next_pass(r); }); }
    // Each recorder with fewer graph records than the others uses its last for the rest.
    void capture_begin(std::size_t copy) {
        each([&](auto& r) { profile::capture_begin(r, clamped<decltype(r)>(copy)); });
    }
    void replay_begin(std::size_t copy, auto s) {
        each([&](auto& r) { profile::replay_begin(r, clamped<decltype(r)>(copy), s); });
    }
    void replay_end(std::size_t copy, auto s) {
        each([&](auto& r) { profile::replay_end(r, clamped<decltype(r)>(copy), s); });
    }
    void fill(stats& s) { each([&](auto& r) { r.fill(s); }); }
    void reset() { each([](auto& r) { r.reset(); }); }

    // The first recorder that can trace traces for all.
    void trace_to(std::filesystem::path const& path)
        requires(tracing_recorder<typename Profilers::template recorder<Backend>> || ...)
    {
        bool done = false;
        each([&](auto& r) {
            if constexpr (tracing_recorder<std::remove_cvref_t<decltype(r)>>)
                if (!std::exchange(done, true)) r.trace_to(path);
        });
    }
    trace_log* trace() noexcept
        requires(tracing_recorder<typename Profilers::template recorder<Backend>> || ...)
    {
        trace_log* found = nullptr;
        each([&](auto& r) {
            if constexpr (tracing_recorder<std::remove_cvref_t<decltype(r)>>)
                if (found == nullptr) found = r.trace();
        });
        return found;
    }

private:
    template <class RecorderRef>
    static std::size_t clamped(std::size_t copy) {
        return std::min(copy, profile::graph_records<std::remove_cvref_t<RecorderRef>>() - 1);
    }
    template <class Fn>
    void each(Fn&& fn) {
        (fn(static_cast<typename Profilers::template recorder<Backend>&>(*this)), ...);
    }
};

}  // namespace detail

template <class... Profilers>
struct combine {
    static_assert(sizeof...(Profilers) > 0 && (profiler_policy<Profilers> && ...),
                  "offload::profile::combine<P...>: every P must be a profiler policy");
    using policy_kind = offload::policy_kind::profiler;
    static constexpr char const* name = detail::joined_name<Profilers...>::storage.data();
    template <class Backend>
    using recorder = detail::combined_recorder<Backend, Profilers...>;
};

}  // namespace offload::profile
