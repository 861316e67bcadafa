// A tensor-parallel shard of the FFN stack (see tp_shard.hpp).
#include "tp_shard.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <string>
#include <thread>

#include <offload/errors.hpp>
#include <offload/tensor.hpp>

#include "ffn_random.hpp"

namespace ffn::tp {

std::size_t shard::layer_bytes() const {
    std::size_t n = 0;
    for (auto b : bytes) n += b;
    return n;
}

namespace {

// Buffer b of one layer's shard, into out.
void fill_buffer(dims const& full, std::uint64_t seed, std::size_t layer, std::size_t b, int rank, int ranks,
                 std::uint16_t* out) {
    std::size_t const H = full.hidden, F = full.ffn, f = F / static_cast<std::size_t>(ranks);
    std::size_t const r = static_cast<std::size_t>(rank);
    auto const key = random::stream_key(seed, layer, b);
    auto const law = detail::law(H, F, b);  // the full model's law: fan-in is the whole ffn
    std::vector<std::uint16_t> const table = detail::weight_table(law);
    auto range = [&](std::size_t first, std::size_t last, std::uint16_t* dst) {
        detail::generate_bf16_range(key, law, table.data(), first, last,
                                    [dst, first](std::size_t i, std::uint16_t v) { dst[i - first] = v; });
    };
    switch (b) {
        case 0: range(0, H, out); break;                          // norm [H], whole
        case 1:                                                     // gate [F][H]: rows r f .. (r+1) f
        case 2: range(r * f * H, (r + 1) * f * H, out); break;     // up, likewise
        default:                                                    // down [H][F]: columns r f .. (r+1) f of each row
            for (std::size_t h = 0; h < H; ++h) range(h * F + r * f, h * F + (r + 1) * f, out + h * f);
    }
}

}  // namespace

shard make_shard(dims const& full, std::uint64_t seed, std::size_t layers, int rank, int ranks, unsigned threads) {
    if (ranks < 1 || full.ffn % static_cast<std::size_t>(ranks) != 0)
        throw offload::configuration_error("ffn::tp::make_shard: ffn " + std::to_string(full.ffn) +
                                           " does not split into " + std::to_string(ranks) + " equal shards");
    shard s;
    s.local = {full.hidden, full.ffn / static_cast<std::size_t>(ranks), full.batch};
    for (auto n : layer_buffer_bytes(s.local)) s.bytes.push_back(n);
    s.blocks.resize(layers);
    for (auto& layer : s.blocks)
        for (auto b : s.bytes) layer.push_back(offload_examples::tp::allocate_pages(b));

    // Layer by layer over the threads; each layer's values depend on (seed, layer) only.
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr failure;
    auto work = [&] {
        try {
            for (std::size_t l; !failed && (l = next++) < layers;)
                for (std::size_t b = 0; b < s.bytes.size(); ++b)
                    fill_buffer(full, seed, l, b, rank, ranks, static_cast<std::uint16_t*>(s.blocks[l][b].get()));
        } catch (...) {
            if (!failed.exchange(true)) failure = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < std::min<std::size_t>(std::max(threads, 1u), layers); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
    return s;
}

offload::model describe(shard const& s, int rank) {
    std::size_t const H = s.local.hidden, f = s.local.ffn;
    offload::model m;
    for (std::size_t l = 0; l < s.blocks.size(); ++l) {
        std::string const prefix = "layers." + std::to_string(l) + ".rank" + std::to_string(rank) + ".";
        offload::tensor_info const shapes[4] = {{prefix + "norm", offload::dtype::bf16, 1, H, false},
                                                {prefix + "gate", offload::dtype::bf16, f, H},
                                                {prefix + "up", offload::dtype::bf16, f, H},
                                                {prefix + "down", offload::dtype::bf16, H, f}};
        std::vector<offload::weight_buffer> buffers;
        for (std::size_t b = 0; b < 4; ++b) buffers.emplace_back(s.blocks[l][b].get(), shapes[b]);
        m.add_layer(std::move(buffers));
    }
    return m;
}

}  // namespace ffn::tp
