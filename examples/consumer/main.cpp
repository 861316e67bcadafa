// Built against an installed offload package (see CMakeLists.txt here): a
// user's program, checking that what it streams through the host backend
// comes out as it went in, and printing the stats.
#include <offload/offload.hpp>

#include <cstdio>
#include <iostream>
#include <vector>

int main() {
    constexpr std::size_t layers = 6;
    std::vector<std::vector<int>> weights(layers, std::vector<int>(2048));
    offload::model model;
    for (std::size_t i = 0; i < layers; ++i) {
        for (auto& w : weights[i]) w = static_cast<int>(i);
        model.add_layer({{weights[i].data(), weights[i].size() * sizeof(int)}});
    }
    offload::layer_offloader<offload::backend::host, offload::residency::interleaved, offload::prefetch::next_layer,
                             offload::profile::events>
        off(model, offload::presets::manual(2));
    for (int pass = 0; pass < 2; ++pass)
        for (auto layer : off.pass())
            if (layer.buffer_as<int const>(0)[2047] != static_cast<int>(layer.index())) {
                std::fprintf(stderr, "offload-consumer: layer %zu saw the wrong weights\n", layer.index());
                return 1;
            }
    auto const stats = off.statistics();
    std::cout << boost::json::serialize(boost::json::value_from(stats)) << '\n';
    return stats.counts.passes == 2 && stats.counts.layer_loads == 2 * (layers - 2) ? 0 : 1;
}
