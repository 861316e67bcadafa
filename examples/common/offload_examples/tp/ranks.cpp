// The frame of a tensor-parallel example run (see ranks.hpp).
#include <offload_examples/tp/ranks.hpp>

#include <cstdlib>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <cuda_runtime_api.h>

#include <offload/detail/cuda_check.hpp>
#include <offload/errors.hpp>

#include <offload_examples/errors.hpp>
#include <offload_examples/tp/numa.hpp>
#include <offload_examples/values.hpp>

namespace offload_examples::tp {

rank_failure::rank_failure(int rank, std::string const& cause)
    : std::runtime_error("rank " + std::to_string(rank) + " (GPU " + std::to_string(rank) + ") failed: " + cause +
                         "; the other ranks stopped and every NCCL communicator was aborted"),
      rank(rank) {}

void run_ranks(group& g, std::function<void(int rank)> const& body) {
    int devices = 0;
    OFFLOAD_CUDA_TRY(cudaGetDeviceCount(&devices), "counting the CUDA devices");
    if (g.size() > devices)
        throw offload::configuration_error(std::to_string(g.size()) + " GPUs asked for, " + std::to_string(devices) +
                                           " found");
    auto rank_thread = [&g, &body](int rank) {
        try {
            // This thread's own current device: its cuBLAS handle, kernels and NCCL calls use it.
            OFFLOAD_CUDA_TRY(cudaSetDevice(rank), "making device " + std::to_string(rank) + " current for rank " +
                                                      std::to_string(rank));
            body(rank);
        } catch (peer_failed const&) {
            // Another rank failed first; it reports the cause.
        } catch (std::exception const& e) {
            g.record(rank, e.what());
        } catch (...) {
            g.record(rank, "an exception that is not a std::exception");
        }
    };
    std::vector<std::thread> threads;
    for (int r = 0; r < g.size(); ++r) {
        try {
            threads.emplace_back(rank_thread, r);
        } catch (std::exception const& e) {
            g.record(r, std::string("starting its thread: ") + e.what());  // the started ranks stop at their next poll
            break;
        }
    }
    for (auto& t : threads) t.join();
    if (auto const f = g.first_failure()) throw rank_failure(f->rank, f->cause.empty() ? "unknown cause" : f->cause);
}

rank_place enter_rank(int rank) {
    rank_place p;
    p.rank = p.device = rank;
    cudaDeviceProp prop{};
    OFFLOAD_CUDA_TRY(cudaGetDeviceProperties(&prop, rank), "reading the properties of device " + std::to_string(rank));
    p.device_name = prop.name;
    numa::gpu_place place = numa::place_of_gpu(rank);
    p.pci_bus_id = std::move(place.pci_bus_id);
    p.gpu_numa_node = place.node;
    p.numa_note = std::move(place.note);
    if (place.node)
        if (std::string const why = numa::bind_thread_to_node(*place.node); !why.empty()) p.numa_note = why;
    return p;
}

void locate_pages(rank_place& place, std::vector<std::vector<page_block>> const& blocks) {
    std::set<int> nodes;
    bool unknown = false;
    for (auto const& layer : blocks)
        for (auto const& b : layer) {
            if (auto const n = numa::node_of_page(b.get()))
                nodes.insert(*n);
            else
                unknown = true;
        }
    if (!unknown && nodes.size() == 1) {
        place.memory_numa_node = *nodes.begin();
        return;
    }
    std::string where;
    for (int n : nodes) where += (where.empty() ? "" : ", ") + std::to_string(n);
    std::string const pages = unknown ? "move_pages could not say where some of the shard's pages are"
                                      : "the shard's pages are on nodes " + where;
    place.numa_note = place.numa_note.empty() ? pages : place.numa_note + "; " + pages;
}

boost::json::object place_json(rank_place const& p) {
    boost::json::object o{
        {"rank", p.rank}, {"device", p.device}, {"device_name", p.device_name}, {"pci_bus_id", p.pci_bus_id}};
    // Absent where it could not be determined; numa_note says why.
    if (p.gpu_numa_node) o["gpu_numa_node"] = *p.gpu_numa_node;
    if (p.memory_numa_node) o["host_memory_numa_node"] = *p.memory_numa_node;
    if (!p.numa_note.empty()) o["numa_note"] = p.numa_note;
    return o;
}

std::optional<injected_failure> failure_from_environment(char const* variable, int gpus) {
    char const* text = std::getenv(variable);
    if (text == nullptr) return std::nullopt;
    std::string const v = text;
    auto refuse = [&](std::string const& why) {
        throw environment_error{variable, quoted(v) + ": " + why,
                                "allowed: RANK:WHEN:WHAT, RANK from 0 to " + std::to_string(gpus - 1) +
                                    ", WHEN setup or a pass number, WHAT exception or oom"};
    };
    std::size_t const a = v.find(':'), b = a == std::string::npos ? a : v.find(':', a + 1);
    if (b == std::string::npos) refuse("three fields separated by ':' expected");
    injected_failure f;
    try {
        f.rank = static_cast<int>(parse_count(variable, v.substr(0, a), {0, gpus - 1}));
        std::string const when = v.substr(a + 1, b - a - 1);
        if (when != "setup") f.pass = static_cast<std::size_t>(parse_count(variable, when, {0, 1000000}));
    } catch (usage_error const& e) {
        refuse(e.what);
    }
    std::string const what = v.substr(b + 1);
    if (what == "oom")
        f.what = injected_failure::kind::out_of_memory;
    else if (what != "exception")
        refuse("unknown WHAT " + quoted(what));
    return f;
}

void fail_on_purpose(injected_failure const& f, offload::backend::cuda& b, char const* variable,
                     std::string const& where) {
    std::string const what = std::string("the failure that ") + variable + " injects " + where;
    if (f.what == injected_failure::kind::out_of_memory) {
        // A real allocation failure, through the backend's own path.
        void* p = b.device_allocate(std::size_t{1} << 50, what);
        b.device_deallocate(p, std::size_t{1} << 50);
        throw offload::out_of_memory(what + " (2^50 bytes were granted)", std::size_t{1} << 50, 0);
    }
    throw std::runtime_error(what);
}

}  // namespace offload_examples::tp
