// expect: this backend cannot record a graph
#include <offload/offload.hpp>

int main() {
    offload::model m;
    offload::layer_offloader<offload::backend::host> off(m, offload::config{});
    auto g = off.capture([](auto const&) {});
}
