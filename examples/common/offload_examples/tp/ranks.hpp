#pragma once
// The frame of a tensor-parallel example run (offload-ffn and offload-llama
// --gpus N): one host thread per GPU of this host, rank r on device r, each
// bound to its GPU's NUMA node; a rank that fails stops the others (comm.hpp)
// and the run throws one error naming it. What each rank computes is the
// example's; this is what they share. Needs NCCL (the target
// offload_examples_tp).
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include <offload/backend/cuda.hpp>

#include <offload_examples/tp/comm.hpp>
#include <offload_examples/tp/host_pages.hpp>

namespace offload_examples::tp {

// A rank failed and the others were stopped: what() is one line naming the
// first rank that failed and its cause.
struct rank_failure : std::runtime_error {
    rank_failure(int rank, std::string const& cause);
    int rank;
};

// Runs body(rank) on one thread per rank of g, rank r with device r current.
// An exception in a body stops the group (the others throw peer_failed at
// their next poll, which is swallowed here); once every thread has ended, the
// first failure is thrown as rank_failure. Throws offload::configuration_error
// when the host has fewer devices than g has ranks.
void run_ranks(group& g, std::function<void(int rank)> const& body);

// Where a rank runs: its GPU, that GPU's NUMA node, and where the memory the
// rank first touched landed.
struct rank_place {
    int rank = 0;
    int device = 0;
    std::string device_name;
    std::string pci_bus_id;
    std::optional<int> gpu_numa_node;     // from sysfs
    std::optional<int> memory_numa_node;  // where the rank's host pages are, when all on one node
    std::string numa_note;                // why either is absent, or why the thread could not be bound
};

// On a rank's thread, before it allocates host memory: reads the GPU's place
// and binds the thread (and the threads it starts) to the GPU's NUMA node.
rank_place enter_rank(int rank);
// Records the node of the first page of each of a shard's blocks, [layer][buffer]
// (memory_numa_node when they share one; numa_note says otherwise).
void locate_pages(rank_place& place, std::vector<std::vector<page_block>> const& blocks);
// rank, device, device_name, pci_bus_id, and the nodes where known (numa_note where not).
boost::json::object place_json(rank_place const& p);

// A test hook: make one rank fail on purpose, read from an environment variable.
struct injected_failure {
    enum class kind { exception, out_of_memory };
    int rank = 0;
    // At the middle layer of this pass (counting warm-up passes), before its
    // all-reduce; absent: at setup, before the communicator is made.
    std::optional<std::size_t> pass;
    kind what = kind::exception;
};

// The variable's value RANK:WHEN:WHAT (WHEN "setup" or a pass number, WHAT
// "exception" or "oom"), or nothing when unset; throws environment_error
// (offload_examples/errors.hpp) for a value that does not parse.
std::optional<injected_failure> failure_from_environment(char const* variable, int gpus);

// Throws the injected failure: a std::runtime_error, or for kind
// out_of_memory, the offload::out_of_memory of a real 2^50-byte device
// allocation through the backend. `variable` and `where` make its message.
[[noreturn]] void fail_on_purpose(injected_failure const& f, offload::backend::cuda& b, char const* variable,
                                  std::string const& where);

}  // namespace offload_examples::tp
