#pragma once
// Run-time policy names -> compiled policy types: dispatch<Lists>(names, f)
// calls f.template operator()<Residency, Prefetch, Profiler, ...>() with the
// types that `names` chose from each list of Lists (a policy_lists, or a
// policy_union of them: its products are tried in order), e.g.
//
//   return offload_examples::dispatch<my_policies>(o.policies, [&]<class R, class P, class F>() {
//       offload::layer_offloader<Backend, R, P, F> off(model, o.cfg);
//       ...
//   });
//
// f is instantiated once per combination, so keep the lists short (a
// policy_union compiles the combinations of its products only) and put each
// backend's call in its own translation unit to compile them in parallel.
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <offload/errors.hpp>

#include "policy_lists.hpp"

namespace offload_examples {

namespace detail {

template <class Chosen, class Remaining>
struct dispatcher;

template <class... Chosen>
struct dispatcher<type_list<Chosen...>, policy_lists<>> {
    template <class F, class Result>
    static bool call(policy_names const&, F& f, Result& result) {
        if constexpr (std::is_same_v<Result, bool>)
            f.template operator()<Chosen...>();
        else
            result.emplace(f.template operator()<Chosen...>());
        return true;
    }
};

template <class... Chosen, class... Ts, class... Rest>
struct dispatcher<type_list<Chosen...>, policy_lists<type_list<Ts...>, Rest...>> {
    template <class F, class Result>
    static bool call(policy_names const& names, F& f, Result& result) {
        std::string const& wanted = names.*(option_of<type_list<Ts...>>.chosen);
        auto named = [&wanted](std::vector<std::string> const& n) {
            for (auto const& s : n)
                if (s == wanted) return true;
            return false;
        };
        return ((named(cli_names<Ts>()) &&
                 dispatcher<type_list<Chosen..., Ts>, policy_lists<Rest...>>::call(names, f, result)) ||
                ...);
    }
};

// What f returns for the first type of each list (the same for every combination).
template <class List>
struct head;
template <class T, class... Ts>
struct head<type_list<T, Ts...>> {
    using type = T;
};
template <class F, class... Lists>
auto first_of(policy_lists<Lists...>)
    -> decltype(std::declval<F&>().template operator()<typename head<Lists>::type...>());
template <class F, class P, class... Rest>
auto first_of(policy_union<P, Rest...>) -> decltype(first_of<F>(P{}));

template <class... P, class F, class Result>
bool call_any(policy_union<P...>, policy_names const& names, F& f, Result& result) {
    return (dispatcher<type_list<>, P>::call(names, f, result) || ...);
}

}  // namespace detail

template <class Lists, class F>
auto dispatch(policy_names const& names, F&& f) {
    using result_type = decltype(detail::first_of<F>(Lists{}));
    using holder = std::conditional_t<std::is_void_v<result_type>, bool, std::optional<result_type>>;
    holder result{};
    if (!detail::call_any(union_t<Lists>{}, names, f, result))
        throw offload::configuration_error("policies " + describe_choice(offered_t<Lists>{}, names) +
                                           " are not compiled into this program");
    if constexpr (!std::is_void_v<result_type>) return std::move(*result);
}

}  // namespace offload_examples
