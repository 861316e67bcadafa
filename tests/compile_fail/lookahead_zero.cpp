// expect: lookahead<N>: N is the number of staging slots and must be at least 1
#include <offload/offload.hpp>

int main() {
    offload::model m;
    offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::lookahead<0>,
                             offload::profile::none>
        off(m, offload::config{});
}
