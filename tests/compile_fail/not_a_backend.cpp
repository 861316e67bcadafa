// expect: Backend must be a backend
#include <offload/offload.hpp>

struct my_device {};

int main() {
    offload::model m;
    offload::layer_offloader<my_device> off(m, offload::config{});
}
