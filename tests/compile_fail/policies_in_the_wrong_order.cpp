// expect: Residency must be a residency policy
#include <offload/offload.hpp>

int main() {
    offload::model m;
    offload::layer_offloader<offload::backend::host, offload::prefetch::none, offload::residency::first_n,
                             offload::profile::none>
        off(m, offload::config{});
}
