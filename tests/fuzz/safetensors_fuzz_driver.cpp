// A seeded mutation fuzzer for compilers without libFuzzer (g++): it mutates
// valid and broken safetensors files and index files (bit flips, byte sets,
// truncations, header-length edits, JSON splices, number edits, crossovers)
// and feeds each mutant to LLVMFuzzerTestOneInput for a fixed time, with a
// fixed seed, so that a CI run under ASan and UBSan is repeatable in what it
// tries first. Mutants the parser accepts join the pool, so later mutations
// start from files that pass the early checks.
//
//   OFFLOAD_FUZZ_SECONDS  run time (default 10)
//   OFFLOAD_FUZZ_SEED     the random seed (default 20261128)
//   --write-seeds DIR     write the seeds as a libFuzzer corpus and exit
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <offload/source/safetensors/detail/parse_header.hpp>

#include "../common/safetensors_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size);

namespace {

namespace st = offload::safetensors;
namespace w = offload::testing::safetensors;
using bytes = std::vector<std::byte>;

bytes text_bytes(std::string_view s) {
    auto const b = std::as_bytes(std::span(s.data(), s.size()));
    return {b.begin(), b.end()};
}
bytes raw_file(std::string const& header, std::size_t data_bytes) {
    return w::file_bytes(header, bytes(data_bytes, std::byte{0x5a}));
}

struct seed {
    bytes input;
    std::optional<st::error_kind> refused_as;  // what parse_header must say; absent: it accepts
};

std::vector<seed> seeds() {
    std::vector<w::tensor> layered;
    for (int i = 0; i < 2; ++i) {
        auto const p = "model.layers." + std::to_string(i) + ".";
        layered.push_back(w::bf16(p + "mlp.weight", {2, 3}, {1, 2, 3, 4, 5, 6}));
        layered.push_back(w::f32(p + "norm.weight", {3}, {1, 1, 1}));
    }
    layered.push_back(w::patterned("lm_head.weight", "F16", {4, 2}, 2, 1));
    auto truncated = w::file_bytes(layered);
    truncated.resize(truncated.size() - 3);
    auto long_length = w::file_bytes(layered);
    long_length[6] = std::byte{1};

    using k = st::error_kind;
    return {
        {w::file_bytes(layered, {{"format", "pt"}}), {}},
        {w::file_bytes({w::f32("scalar", {}, {2.5f}), w::bf16("empty", {0, 4}, {}), w::bf16("v", {2}, {1, 2})}), {}},
        {raw_file("{}", 0), {}},
        {raw_file(R"({"__metadata__": {"a": "b"}, "t": {"dtype": "F16", "shape": [1, 1], "data_offsets": [0, 2]}})", 2), {}},
        {text_bytes(R"({"metadata": {"total_size": 8}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})"),
         k::header_length},
        {truncated, k::truncated},
        {long_length, k::header_length},
        {raw_file(R"({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}, "b": {"dtype": "BF16", "shape": [2], "data_offsets": [2, 6]}})", 6), k::offsets},
        {raw_file(R"({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [2, 4]}})", 4), k::offsets},
        {raw_file(R"({"a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})", 8), k::dtype},
        {raw_file(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0), k::shape_overflow},
        {raw_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4), k::field_type},
        {raw_file(R"({"a": )", 0), k::header_json},
    };
}

constexpr std::array<std::string_view, 40> json_tokens = {
    "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"weight_map\"", "\"BF16\"", "\"F16\"",
    "\"F32\"", "\"I64\"", "\"F8_E4M3\"", "[", "]", "{", "}", ",", ":", "0", "1", "-1", "1.5", "1e308", "-0",
    "18446744073709551615", "18446744073709551616", "9223372036854775807", "4294967296", "null", "true", "\"\"",
    "\"\\u0000\"", "\"\\ud800\"", "\xff", "\xc3\x28", "\"model.layers.0.\"", "\"../x.safetensors\"", "[0, 0]",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
    "                ", "\"model.layers.18446744073709551616.x\""};

constexpr std::array<std::uint64_t, 10> interesting_numbers = {
    0, 1, 2, 7, 8, 255, 4294967296ull, 100'000'000ull, 9223372036854775808ull, 18446744073709551615ull};

class mutator {
public:
    explicit mutator(std::uint64_t seed) : rng_(seed) {}

    std::size_t below(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

    void mutate(bytes& b, std::vector<seed> const& pool) {
        // Edits inside the JSON reach the deeper checks; truncations and
        // length edits mostly stop at the first one, so they come less often.
        static constexpr std::array<double, 8> weights = {2, 2, 1, 1, 4, 4, 1, 2};
        switch (std::discrete_distribution<int>(weights.begin(), weights.end())(rng_)) {
            case 0:
                if (!b.empty()) b[below(b.size())] ^= static_cast<std::byte>(1u << below(8));
                break;
            case 1:
                if (!b.empty())
                    b[below(b.size())] = static_cast<std::byte>(below(2) ? below(256) : std::array<int, 6>{0, 0xff, '{', '"', '[', '9'}[below(6)]);
                break;
            case 2: b.resize(below(b.size() + 1)); break;
            case 3: set_length(b, pick_length(b)); break;
            case 4: splice(b, json_tokens[below(json_tokens.size())]); break;
            case 5: edit_number(b); break;
            case 6: crossover(b, pool[below(pool.size())].input); break;
            case 7: erase_range(b); break;
        }
    }

private:
    static std::uint64_t length_of(bytes const& b) {
        std::uint64_t n = 0;
        for (std::size_t i = 0; i < 8 && i < b.size(); ++i) n |= std::uint64_t(std::to_integer<unsigned>(b[i])) << (8 * i);
        return n;
    }
    static void set_length(bytes& b, std::uint64_t n) {
        if (b.size() < 8) return;
        for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<std::byte>((n >> (8 * i)) & 0xffu);
    }
    std::uint64_t pick_length(bytes const& b) {
        std::uint64_t const rest = b.size() >= 8 ? b.size() - 8 : 0;
        switch (below(4)) {
            case 0: return interesting_numbers[below(interesting_numbers.size())];
            case 1: return rest + below(3) - 1;  // the end of the file, give or take one
            case 2: return below(rest + 1);
            default: return length_of(b) + below(17) - 8;
        }
    }
    // Where the header is (whole input if the length field is not plausible:
    // then it is treated as text, as an index is).
    std::pair<std::size_t, std::size_t> header_span(bytes const& b) const {
        std::uint64_t const n = length_of(b);
        if (b.size() >= 8 && n <= b.size() - 8) return {8, 8 + static_cast<std::size_t>(n)};
        return {0, b.size()};
    }
    // Edits inside the header keep the length field right three times in
    // four, so that most mutants reach the checks after the JSON parse.
    void replace(bytes& b, std::size_t at, std::size_t erase, std::string_view insert) {
        auto const [begin, end] = header_span(b);
        bool const in_header = begin == 8 && at >= begin && at + erase <= end;
        auto const bytes_in = std::as_bytes(std::span(insert.data(), insert.size()));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + erase));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), bytes_in.begin(), bytes_in.end());
        if (in_header && below(4) != 0) set_length(b, (end - begin) - erase + insert.size());
    }
    void splice(bytes& b, std::string_view token) {
        auto const [begin, end] = header_span(b);
        std::size_t const at = begin + below(end - begin + 1);
        replace(b, at, std::min(below(9), end - at), token);
    }
    void edit_number(bytes& b) {
        auto const [begin, end] = header_span(b);
        std::vector<std::size_t> starts;
        for (std::size_t i = begin; i < end; ++i) {
            auto const c = std::to_integer<char>(b[i]);
            bool const digit = c >= '0' && c <= '9';
            bool const after_digit = i > begin && std::to_integer<char>(b[i - 1]) >= '0' && std::to_integer<char>(b[i - 1]) <= '9';
            if (digit && !after_digit) starts.push_back(i);
        }
        if (starts.empty()) return;
        std::size_t const at = starts[below(starts.size())];
        std::size_t len = 0;
        while (at + len < end && std::to_integer<char>(b[at + len]) >= '0' && std::to_integer<char>(b[at + len]) <= '9') ++len;
        std::uint64_t const old = std::strtoull(std::string(reinterpret_cast<char const*>(&b[at]), len).c_str(), nullptr, 10);
        std::uint64_t const value = below(2) ? interesting_numbers[below(interesting_numbers.size())] : old + below(5) - 2;
        replace(b, at, len, std::to_string(value));
    }
    void crossover(bytes& b, bytes const& other) {
        if (other.empty()) return;
        std::size_t const from = below(other.size());
        std::size_t const len = 1 + below(std::min<std::size_t>(64, other.size() - from));
        std::size_t const at = below(b.size() + 1);
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), other.begin() + static_cast<std::ptrdiff_t>(from),
                 other.begin() + static_cast<std::ptrdiff_t>(from + len));
    }
    void erase_range(bytes& b) {
        if (b.empty()) return;
        std::size_t const at = below(b.size());
        replace(b, at, 1 + below(std::min<std::size_t>(16, b.size() - at)), {});
    }

    std::mt19937_64 rng_;
};

// The verdict of the parser on an input, for the pool and the tally.
std::optional<st::error_kind> verdict(bytes const& input) {
    try {
        st::detail::parse_header(input, "fuzz-input");
        return std::nullopt;
    } catch (st::error const& e) {
        return e.kind;
    }
}

// Runs the target on an exact-size copy, so that AddressSanitizer flags a
// read even one byte past the input (a vector's spare capacity would hide it).
void run(bytes const& input) {
    auto copy = std::make_unique<std::uint8_t[]>(input.size());
    std::memcpy(copy.get(), input.data(), input.size());
    LLVMFuzzerTestOneInput(copy.get(), input.size());
}

std::uint64_t env_or(char const* name, std::uint64_t fallback) {
    char const* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
    auto pool = seeds();
    if (argc == 3 && std::string_view(argv[1]) == "--write-seeds") {
        std::filesystem::create_directories(argv[2]);
        for (std::size_t i = 0; i < pool.size(); ++i)
            w::write_bytes(std::filesystem::path(argv[2]) / ("seed-" + std::to_string(i)), pool[i].input);
        return 0;
    }
    // The seeds must be what they claim, or the run below proves little.
    for (std::size_t i = 0; i < pool.size(); ++i) {
        if (verdict(pool[i].input) != pool[i].refused_as) {
            std::cerr << "safetensors_fuzz: seed " << i << " is not refused or accepted as the driver expects\n";
            return 1;
        }
        run(pool[i].input);
    }

    auto const seconds = env_or("OFFLOAD_FUZZ_SECONDS", 10);
    auto const rng_seed = env_or("OFFLOAD_FUZZ_SEED", 20261128);
    mutator m(rng_seed);
    std::map<std::string, std::size_t> tally;
    std::size_t iterations = 0;
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    constexpr std::size_t max_pool = 512;
    while (iterations % 64 != 0 || std::chrono::steady_clock::now() < deadline) {
        bytes input = pool[m.below(pool.size())].input;
        for (std::size_t n = 1 + m.below(4); n > 0; --n) m.mutate(input, pool);
        run(input);
        auto const v = verdict(input);
        ++tally[v ? st::error_kind_name(*v) : "accepted"];
        if (!v) {
            if (pool.size() < max_pool) pool.push_back({std::move(input), {}});
            else pool[m.below(max_pool)] = {std::move(input), {}};
        }
        ++iterations;
    }
    std::cout << "safetensors_fuzz: " << iterations << " inputs in " << seconds << " s (seed " << rng_seed
              << "); outcomes:";
    for (auto const& [outcome, count] : tally) std::cout << ' ' << outcome << '=' << count;
    std::cout << '\n';
    return 0;
}
