// NUMA placement through sysfs and system calls (see numa.hpp).
#include <offload_examples/tp/numa.hpp>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#include <offload/detail/cuda_check.hpp>

namespace offload_examples::numa {

namespace {

std::optional<std::string> read_first_line(std::string const& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return line;
}

// "0-15,32-47" -> the CPUs of a sysfs cpulist.
bool parse_cpulist(std::string const& list, cpu_set_t& set) {
    CPU_ZERO(&set);
    std::stringstream in(list);
    std::string item;
    bool any = false;
    while (std::getline(in, item, ',')) {
        if (item.empty()) continue;
        std::size_t const dash = item.find('-');
        try {
            int const first = std::stoi(item.substr(0, dash));
            int const last = dash == std::string::npos ? first : std::stoi(item.substr(dash + 1));
            for (int c = first; c <= last && c < CPU_SETSIZE; ++c) {
                CPU_SET(c, &set);
                any = true;
            }
        } catch (std::exception const&) {
            return false;
        }
    }
    return any;
}

}  // namespace

gpu_place place_of_gpu(int device) {
    char id[32] = {};
    OFFLOAD_CUDA_TRY(cudaDeviceGetPCIBusId(id, sizeof id, device),
                     "reading the PCI bus id of device " + std::to_string(device));
    gpu_place p;
    for (char const* c = id; *c != '\0'; ++c) p.pci_bus_id += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    // sysfs names a device by a 4-digit domain; the runtime may give 8 ("00000000:1b:00.0").
    std::string sysfs_id = p.pci_bus_id;
    if (std::size_t const colon = sysfs_id.find(':'); colon > 4 && colon != std::string::npos)
        sysfs_id.erase(0, colon - 4);
    std::string const path = "/sys/bus/pci/devices/" + sysfs_id + "/numa_node";
    auto const text = read_first_line(path);
    if (!text) {
        p.note = "cannot read " + path;
        return p;
    }
    int node = -1;
    try {
        node = std::stoi(*text);
    } catch (std::exception const&) {
        p.note = path + " holds '" + *text + "'";
        return p;
    }
    if (node < 0)
        p.note = path + " says -1: the machine reports no NUMA placement for this GPU (one node)";
    else
        p.node = node;
    return p;
}

std::string bind_thread_to_node(int node) {
    std::string const path = "/sys/devices/system/node/node" + std::to_string(node) + "/cpulist";
    auto const list = read_first_line(path);
    if (!list) return "cannot read " + path;
    cpu_set_t set;
    if (!parse_cpulist(*list, set)) return path + " holds no CPU ('" + *list + "')";
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        return std::string("sched_setaffinity to node ") + std::to_string(node) + "'s CPUs failed: " + std::strerror(errno);
    return "";
}

std::optional<int> node_of_page(void const* p) {
    long const page = sysconf(_SC_PAGESIZE);
    void* pages[1] = {reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) & ~static_cast<std::uintptr_t>(page - 1))};
    int status[1] = {-1};
    // nodes == nullptr: move nothing, report each page's node in status.
    if (syscall(SYS_move_pages, 0, 1UL, pages, nullptr, status, 0) != 0 || status[0] < 0) return std::nullopt;
    return status[0];
}

}  // namespace offload_examples::numa
