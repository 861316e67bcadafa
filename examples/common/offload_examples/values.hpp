#pragma once
// What an option accepts and what it does with a value, as one object: the
// text of "allowed: ..." in --help and in the error lines, and the parser that
// enforces it, so that the two cannot disagree. Parsers throw usage_error with
// an empty `allowed`, which command_line fills in from the option's row.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#if defined(__unix__)
#include <unistd.h>
#endif

#include "errors.hpp"

namespace offload_examples {

struct option_value {
    std::string allowed;  // "an integer from 1 to 4096"
    // Called with the option (with dashes) and the text given; an empty text for a flag.
    std::function<void(std::string const& option, std::string const& text)> apply;
};

struct count_range {
    std::int64_t min, max;
};

inline std::string quoted(std::string const& v) { return "'" + v + "'"; }

// Counts are parsed as signed 64-bit and range-checked: "-1" is -1, not 2^64-1.
// No sign, spaces, hex or exponent: from_chars takes exactly a decimal integer.
inline std::int64_t parse_count(std::string const& option, std::string const& text, count_range r) {
    std::int64_t v = 0;
    auto const* first = text.data();
    auto const* last = text.data() + text.size();
    auto const [end, ec] = std::from_chars(first, last, v);
    if (ec == std::errc::result_out_of_range) throw usage_error{option, quoted(text) + " is out of range", ""};
    if (ec != std::errc{} || end != last || text.empty())
        throw usage_error{option, quoted(text) + " is not an integer", ""};
    if (v < r.min || v > r.max) {
        std::string what = std::to_string(v) + (v < r.min ? " is too small" : " is too large");
        if (v == 0 && r.min > 0) what = "0 is not allowed";
        if (v < 0 && r.min >= 0) what = std::to_string(v) + " is negative";
        throw usage_error{option, what, ""};
    }
    return v;
}

// A byte count: an integer, optionally with a binary suffix K, M, G, T (KiB, MiB, ...).
inline std::int64_t parse_bytes(std::string const& option, std::string const& text, count_range r) {
    std::string digits = text;
    std::int64_t unit = 1;
    static constexpr std::pair<char const*, int> suffixes[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40},
                                                               {"K", 10},   {"M", 20},   {"G", 30},   {"T", 40}};
    for (auto const& [suffix, shift] : suffixes) {
        std::string_view const s(suffix);
        if (digits.size() > s.size() && std::string_view(digits).substr(digits.size() - s.size()) == s) {
            digits.resize(digits.size() - s.size());
            unit = std::int64_t{1} << shift;
            break;
        }
    }
    std::int64_t const n = parse_count(option, digits, {std::numeric_limits<std::int64_t>::min(),
                                                        std::numeric_limits<std::int64_t>::max()});
    if (n > 0 && n > r.max / unit) throw usage_error{option, quoted(text) + " is too large", ""};
    // n * unit overflows for a large negative n; the unit does not change why n <= 0 is refused.
    if (n <= 0) return parse_count(option, std::to_string(n), r);
    return parse_count(option, std::to_string(n * unit), r);
}

// "1,2,3": each item a count in r; no spaces, no empty items, at least one item.
inline std::vector<std::int64_t> parse_int_list(std::string const& option, std::string const& text, count_range r) {
    if (text.empty()) throw usage_error{option, "the list is empty", ""};
    std::vector<std::int64_t> out;
    std::size_t begin = 0;
    for (;;) {
        std::size_t const comma = text.find(',', begin);
        std::string const item = text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
        std::string const where = "item " + std::to_string(out.size() + 1) + ": ";
        if (item.empty()) throw usage_error{option, where + "empty", ""};
        try {
            out.push_back(parse_count(option, item, r));
        } catch (usage_error& e) {
            e.what = where + e.what;
            throw;
        }
        if (comma == std::string::npos) return out;
        begin = comma + 1;
    }
}

// Refuses a path that the run could not write, without creating anything:
// a bad command line leaves no files behind.
inline void check_writable_path(std::string const& option, std::string const& text) {
    if (text.empty()) throw usage_error{option, "the path is empty", ""};
    namespace fs = std::filesystem;
    fs::path const path(text);
    std::error_code ec;
    auto const status = fs::status(path, ec);
    auto refuse = [&](std::string const& why) {
        throw usage_error{option, "cannot write " + quoted(text) + " (" + why + ")", ""};
    };
    if (fs::is_directory(status)) refuse("it is a directory");
    fs::path const dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec)) refuse(quoted(dir.string()) + " is not a directory");
#if defined(__unix__)
    bool const exists = fs::exists(status);
    if (::access(exists ? path.c_str() : dir.c_str(), exists ? W_OK : W_OK | X_OK) != 0) refuse(std::strerror(errno));
#endif
}

// --- option values ------------------------------------------------------------------

inline std::string range_text(count_range r) {
    return "an integer from " + std::to_string(r.min) + " to " + std::to_string(r.max);
}

namespace detail {
template <class T>
struct stored {
    using type = T;
};
template <class T>
struct stored<std::optional<T>> {
    using type = T;
};
}  // namespace detail

// A count stored into `out` (any integer type, or an optional of one).
template <class T>
option_value count(T& out, count_range r) {
    return {range_text(r), [&out, r](std::string const& option, std::string const& text) {
                out = static_cast<typename detail::stored<T>::type>(parse_count(option, text, r));
            }};
}

// A byte count with an optional K, M, G or T suffix (powers of 1024).
template <class T>
option_value bytes(T& out, count_range r) {
    auto const max = static_cast<std::uint64_t>(r.max);
    std::string const max_text =
        std::has_single_bit(max) && max >= (1u << 20) ? "2^" + std::to_string(std::countr_zero(max)) : std::to_string(r.max);
    return {"a byte count from " + std::to_string(r.min) + " to " + max_text + " (suffixes K, M, G, T: powers of 1024)",
            [&out, r](std::string const& option, std::string const& text) {
                out = static_cast<typename detail::stored<T>::type>(parse_bytes(option, text, r));
            }};
}

// A comma-separated list of integers, each in r.
inline option_value int_list(std::vector<std::int64_t>& out, count_range r) {
    return {"a comma-separated list of integers from " + std::to_string(r.min) + " to " + std::to_string(r.max),
            [&out, r](std::string const& option, std::string const& text) { out = parse_int_list(option, text, r); }};
}

// A path the run will write; checked before the run (see check_writable_path).
inline option_value writable_path(std::optional<std::string>& out) {
    return {"a path to a file that can be written", [&out](std::string const& option, std::string const& text) {
                check_writable_path(option, text);
                out = text;
            }};
}

// One of a set of names. `also` are other names for the same choice (stored as
// `name`); `note` is said beside it in the allowed text.
struct choice {
    std::string name;
    std::vector<std::string> also = {};
    std::string note = {};
};

inline std::string choices_text(std::vector<choice> const& choices) {
    std::string text;
    for (auto const& c : choices) {
        if (!text.empty()) text += ", ";
        text += c.name;
        std::string extra = c.note;
        for (auto const& a : c.also) extra = (extra.empty() ? "or " : extra + ", or ") + a;
        if (!extra.empty()) text += " (" + extra + ")";
    }
    return text;
}

inline option_value one_of(std::vector<choice> choices, std::function<void(std::string const&)> store) {
    std::string allowed = choices_text(choices);
    return {std::move(allowed), [choices = std::move(choices), store = std::move(store)](std::string const& option,
                                                                                          std::string const& text) {
                for (auto const& c : choices)
                    if (c.name == text || std::find(c.also.begin(), c.also.end(), text) != c.also.end())
                        return store(c.name);
                throw usage_error{option, quoted(text) + " is not a known value", ""};
            }};
}

inline option_value one_of(std::string& out, std::vector<choice> choices) {
    return one_of(std::move(choices), [&out](std::string const& name) { out = name; });
}

// A flag: no value; sets `out` when given.
inline option_value flag(bool& out) {
    return {"the option alone, without a value", [&out](std::string const&, std::string const&) { out = true; }};
}

}  // namespace offload_examples
