#pragma once
// The policies an example compiles in, as one type list per policy kind, and
// the names they answer to on the command line. The options --residency,
// --prefetch, ... and their allowed values are generated from these lists
// (offload_options.hpp), and dispatch.hpp turns the chosen names back into
// the types, so the command line cannot offer a policy that is not compiled.
//
// A new policy kind is one field in policy_names and one option_for line
// below; an example then adds its list to its policy_lists (and one more type
// to the callable it dispatches to). A policy's other names are an also_named
// specialisation. A program that compiles some combinations only lists them
// as a policy_union of products (see below).
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <offload/codec/fp8_e4m3.hpp>
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
    std::string residency, prefetch, profiler, codec;
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
template <>
inline constexpr policy_option option_for<offload::policy_kind::codec> = {
    "codec", &policy_names::codec,
    "how streamed weights cross the link: none moves them as they are; int8, fp8_e4m3 and int4 are lossy, lossless "
    "is bit-exact (bf16 weights only)"};

// Names a policy also answers to, after its canonical one (its `name`).
template <class T>
inline std::vector<std::string> const also_named{};
template <>
inline std::vector<std::string> const also_named<offload::codec::fp8_e4m3>{"fp8"};

// The names a policy answers to: its canonical name first, then also_named<T>.
// A run-ahead prefetch is "lookahead:N"; lookahead<2> is also "next", as
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
    std::vector<std::string> names{T::name};
    names.insert(names.end(), also_named<T>.begin(), also_named<T>.end());
    return names;
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

// --- programs that compile some combinations only ------------------------------
//
// policy_union<P1, P2, ...>: the combinations of P1, then those of P2, ...;
// each Pi a policy_lists of the same kinds in the same order. The command line
// offers every policy that any Pi lists (offered_t: the lists merged kind by
// kind, in order of first appearance), dispatch.hpp tries the products in
// order, and offload_options.hpp turns a choice that no product holds into a
// usage error. E.g. everything without a codec, and the codecs with one
// residency and one prefetch policy only:
//
//   using compiled = ox::policy_union<
//       ox::policy_lists<residencies, prefetches, profilers, ox::type_list<offload::codec::none>>,
//       ox::policy_lists<ox::type_list<offload::residency::first_n>, ox::type_list<offload::prefetch::lookahead<4>>,
//                        profilers, ox::type_list<offload::codec::int8, offload::codec::int4>>>;
template <class... Products>
struct policy_union {};

namespace detail {

template <class List, class T>
struct append_new;
template <class... Ts, class T>
struct append_new<type_list<Ts...>, T> {
    using type = std::conditional_t<(std::is_same_v<Ts, T> || ...), type_list<Ts...>, type_list<Ts..., T>>;
};

template <class A, class B>
struct merge_lists {
    using type = A;
};
template <class A, class T, class... Ts>
struct merge_lists<A, type_list<T, Ts...>> {
    using type = typename merge_lists<typename append_new<A, T>::type, type_list<Ts...>>::type;
};

template <class A, class B>
struct merge_products;
template <class... A, class... B>
struct merge_products<policy_lists<A...>, policy_lists<B...>> {
    static_assert(sizeof...(A) == sizeof...(B),
                  "offload_examples::policy_union: every product lists the same policy kinds, in the same order");
    using type = policy_lists<typename merge_lists<A, B>::type...>;
};

template <class Lists>
struct offered {
    using type = Lists;
};
template <class P>
struct offered<policy_union<P>> {
    using type = P;
};
template <class P, class Q, class... R>
struct offered<policy_union<P, Q, R...>> {
    using type = typename offered<policy_union<typename merge_products<P, Q>::type, R...>>::type;
};

template <class Lists>
struct union_of {
    using type = policy_union<Lists>;
};
template <class... P>
struct union_of<policy_union<P...>> {
    using type = policy_union<P...>;
};

}  // namespace detail

// The lists the command line offers: Lists itself, or a union's lists merged.
template <class Lists>
using offered_t = typename detail::offered<Lists>::type;
// Lists as a union (a policy_lists is a union of one product).
template <class Lists>
using union_t = typename detail::union_of<Lists>::type;

// The compiled combinations as data: per product, per kind (in the order of
// the lists), the canonical names of the policies it holds.
struct compiled_table {
    std::vector<policy_option> options;                           // per kind
    std::vector<std::vector<std::vector<std::string>>> products;  // [product][kind][policy]

    bool holds(std::size_t product, std::size_t kind, std::string const& name) const {
        for (auto const& n : products[product][kind])
            if (n == name) return true;
        return false;
    }
    bool compiled(policy_names const& chosen) const {
        for (std::size_t p = 0; p < products.size(); ++p) {
            bool all = true;
            for (std::size_t k = 0; k < options.size() && all; ++k) all = holds(p, k, chosen.*(options[k].chosen));
            if (all) return true;
        }
        return false;
    }
};

template <class... P>
compiled_table compiled_combinations(policy_union<P...>) {
    auto kinds = []<class... L>(policy_lists<L...>) {
        auto canonical = []<class... Ts>(type_list<Ts...>) {
            return std::vector<std::string>{cli_names<Ts>().front()...};
        };
        return std::vector<std::vector<std::string>>{canonical(L{})...};
    };
    auto options = []<class... L>(policy_lists<L...>) { return std::vector<policy_option>{option_of<L>...}; };
    return {options(offered_t<policy_union<P...>>{}), {kinds(P{})...}};
}

// What --help says about a union: each product's describe(), joined by "; or ".
template <class... P>
std::string describe(policy_union<P...>) {
    std::string text;
    ((text += (text.empty() ? "" : "; or ") + describe(P{})), ...);
    return text;
}

}  // namespace offload_examples
