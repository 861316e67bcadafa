#pragma once
// The policies an example compiles in, as one type list per policy kind, and
// the names they answer to on the command line. The options --residency,
// --prefetch, ... and their allowed values are generated from these lists
// (offload_options.hpp), and dispatch.hpp turns the chosen names back into
// the types, so the command line cannot offer a policy that is not compiled.
//
// A new policy kind (say the transfer codec) is one field in policy_names and
// one policy_option line below; an example then adds its list to its
// policy_lists.
#include <string>
#include <type_traits>
#include <vector>

#include <offload/policy_kind.hpp>

namespace offload_examples {

template <class... Ts>
struct type_list {};

// One type_list per policy kind, in layer_offloader's template-parameter
// order; the first type of each list is the default.
template <class... Lists>
struct policy_lists {};

// The policy chosen of each kind, by its canonical command-line name.
struct policy_names {
    std::string residency, prefetch, profiler;
};

// The option that chooses a policy of one kind.
struct policy_option {
    char const* name;  // "residency": the option is --residency
    std::string policy_names::*chosen;
    char const* help;
};

template <class Kind>
inline constexpr policy_option option_for = {};
template <>
inline constexpr policy_option option_for<offload::policy_kind::residency> = {
    "residency", &policy_names::residency, "which layers stay on the GPU"};
template <>
inline constexpr policy_option option_for<offload::policy_kind::prefetch> = {
    "prefetch", &policy_names::prefetch,
    "staging slots the copies run ahead into (none: copy, wait, compute, one layer at a time)"};
template <>
inline constexpr policy_option option_for<offload::policy_kind::profiler> = {
    "profiler", &policy_names::profiler, "events: timings in the stats; none: counters only"};

// The names a policy answers to: its canonical name first. A run-ahead
// prefetch is "lookahead:N"; lookahead<2> is also "next", as
// offload::prefetch::next_layer is lookahead<2>.
template <class T>
std::vector<std::string> cli_names() {
    if constexpr (std::is_same_v<typename T::policy_kind, offload::policy_kind::prefetch>) {
        if constexpr (T::run_ahead) {
            std::vector<std::string> names{"lookahead:" + std::to_string(T::slots)};
            if (T::slots == 2) names.push_back("next");
            return names;
        }
    }
    return {T::name};
}

// The policy kind of a list: that of all its types.
template <class List>
struct list_kind;
template <class T, class... Ts>
struct list_kind<type_list<T, Ts...>> {
    using type = typename T::policy_kind;
    static_assert((std::is_same_v<typename Ts::policy_kind, type> && ...),
                  "offload_examples::policy_lists: each type_list holds policies of one kind");
};
template <class List>
inline constexpr policy_option const& option_of = option_for<typename list_kind<List>::type>;

// What --help says about the compiled policies: "residency first_n, budget x prefetch ...".
template <class... Lists>
std::string describe(policy_lists<Lists...>) {
    std::string text;
    auto one = []<class... Ts>(type_list<Ts...> l) {
        std::string list = std::string(option_of<decltype(l)>.name) + " ";
        ((list += cli_names<Ts>().front() + ", "), ...);
        return list.substr(0, list.size() - 2);
    };
    ((text += (text.empty() ? "" : " x ") + one(Lists{})), ...);
    return text;
}

// The choice of each list, for messages: "residency first_n, prefetch lookahead:4, ...".
template <class... Lists>
std::string describe_choice(policy_lists<Lists...>, policy_names const& names) {
    std::string text;
    ((text += (text.empty() ? "" : ", ") + std::string(option_of<Lists>.name) + " " + names.*(option_of<Lists>.chosen)),
     ...);
    return text;
}

}  // namespace offload_examples
