// Fuzz entry point of the safetensors parsers (libFuzzer's interface; the
// seeded mutation driver in safetensors_fuzz_driver.cpp calls it too). Every
// input is both a whole .safetensors file and an index file. An input may be
// refused only with safetensors::error; one that is accepted must describe
// tensors that lie inside the input, and every byte of them is read, so that
// AddressSanitizer sees any view that points past the buffer.
#include <offload/source/safetensors/detail/parse_header.hpp>
#include <offload/source/safetensors/detail/parse_index.hpp>
#include <offload/source/safetensors/layers.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

namespace {

void check(bool ok) {
    if (!ok) std::abort();  // a broken invariant is a crash to the fuzzer
}

void fuzz_file(std::span<std::byte const> input) {
    namespace st = offload::safetensors;
    static auto const pattern = st::detail::layer_pattern::of("model.layers.{i}.");
    try {
        auto const parsed = st::detail::parse_header(input, "fuzz-input");
        unsigned char sum = 0;
        for (auto const& t : parsed.tensors) {
            check(t.data >= input.data() && t.bytes <= static_cast<std::size_t>(input.data() + input.size() - t.data));
            check(t.bytes % offload::dtype_size(t.type) == 0);
            for (std::size_t i = 0; i < t.bytes; ++i) sum += std::to_integer<unsigned char>(t.data[i]);
            // A name the layer pattern reads as layer i must be that layer's prefix plus the suffix.
            if (auto const m = pattern.find(t.name)) check(pattern.prefix(m->layer) + std::string(m->suffix) == t.name);
        }
        [[maybe_unused]] unsigned char volatile const sink = sum;
    } catch (st::error const&) {
    }
}

void fuzz_index(std::string_view text) {
    try {
        for (auto const& [name, shard] : offload::safetensors::detail::parse_index(text, "fuzz-index.json"))
            check(!shard.empty() && shard.find('/') == std::string::npos);
    } catch (offload::safetensors::error const&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    auto const bytes = std::as_bytes(std::span(data, size));
    fuzz_file(bytes);
    fuzz_index(std::string_view(reinterpret_cast<char const*>(data), size));
    return 0;
}
