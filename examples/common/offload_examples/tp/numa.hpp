#pragma once
// Where a GPU sits on a machine of several NUMA nodes, and keeping a thread's
// memory there: a GPU's copy engine reads pinned host memory fastest from the
// node its PCIe root complex hangs off, and pages land on the node of the
// thread that first touches them (Linux's default policy). Linux sysfs and
// system calls only: no libnuma.
#include <optional>
#include <string>

namespace offload_examples::numa {

// A GPU's place: its PCI bus id (lower case, as sysfs spells it) and its NUMA
// node from /sys/bus/pci/devices/<id>/numa_node. The node is absent on a
// machine of one node (the file says -1) or where the file cannot be read;
// `note` says which.
struct gpu_place {
    std::string pci_bus_id;
    std::optional<int> node;
    std::string note;
};
gpu_place place_of_gpu(int device);  // throws offload::backend_error if the runtime cannot say

// Binds the calling thread, and the threads it starts afterwards, to the CPUs
// of `node` (sched_setaffinity). Returns "" on success, else why not.
std::string bind_thread_to_node(int node);

// The node holding the page at p (move_pages(2) without a target node: a
// query); absent where the kernel does not say.
std::optional<int> node_of_page(void const* p);

}  // namespace offload_examples::numa
