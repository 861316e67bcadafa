// The smallest complete use of offload, on the host backend: a stack of
// layers whose weights live in host memory, four of them resident in the
// simulated device, the rest streamed through a ring of two slots while each
// layer "computes". Prints the stats as JSON.
#include <offload/offload.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <vector>

int main() {
    constexpr std::size_t layers = 16, floats_per_layer = 1 << 18;  // 1 MiB a layer
    std::vector<std::vector<float>> weights(layers, std::vector<float>(floats_per_layer));
    for (std::size_t i = 0; i < layers; ++i) std::iota(weights[i].begin(), weights[i].end(), float(i));

    offload::model model;
    for (auto& w : weights) model.add_layer({{w.data(), w.size() * sizeof(float)}});

    // A simulated link of 4 GB/s, so that copies take as long as they would over a slow bus.
    offload::backend::host_options device;
    device.link_bytes_per_second = 4e9;

    offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::lookahead<2>,
                             offload::profile::events>
        off(model, offload::presets::extreme, device);

    std::vector<float> activation(1024, 1.0f);
    for (int pass = 0; pass < 5; ++pass)
        for (auto layer : off.pass()) {
            // The "compute": read this layer's weights from its device copy.
            auto const* w = layer.buffer_as<float const>(0);
            for (std::size_t k = 0; k < activation.size(); ++k)
                activation[k] = 0.5f * activation[k] + 1e-6f * w[k * 256];
        }

    std::cout << boost::json::serialize(boost::json::value_from(off.statistics())) << '\n';
}
