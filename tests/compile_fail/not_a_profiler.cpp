// expect: Profiler must be a profiler policy
#include <offload/offload.hpp>

int main() {
    offload::model m;
    offload::layer_offloader<offload::backend::host, offload::residency::first_n, offload::prefetch::none, bool>
        off(m, offload::config{});
}
