#pragma once
// What a residency policy is given and what it returns.
#include <cstddef>
#include <string>
#include <vector>

#include <offload/config.hpp>

namespace offload::residency {

struct placement_request {
    std::vector<std::size_t> const& layer_bytes;  // device footprint of each layer
    std::size_t staging_slots;                    // ring size the prefetch policy asks for
    config const& cfg;
    std::size_t device_free_bytes;                // free device memory right now
};

struct placement {
    std::vector<bool> resident;         // one flag a layer
    std::string reason;                 // why these layers, in a sentence, for the stats
    std::vector<std::string> warnings;  // adjustments the caller should know about
};

}  // namespace offload::residency
