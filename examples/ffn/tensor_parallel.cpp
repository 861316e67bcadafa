// The tensor-parallel FFN run (see tensor_parallel.hpp). Host code (g++); the
// kernels are cuda_stack's (ffn_cuda.cu).
#include "tensor_parallel.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include <cuda_runtime_api.h>

#include <offload/backend/cuda.hpp>
#include <offload/detail/cuda_check.hpp>
#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>

#include <offload_examples/dispatch.hpp>

#include "ffn_cuda.hpp"
#include "ffn_random.hpp"
#include "numa_node.hpp"
#include "tp_comm.hpp"
#include "tp_shard.hpp"

namespace ffn::tp {

rank_failure::rank_failure(int rank, std::string const& cause)
    : std::runtime_error("rank " + std::to_string(rank) + " (GPU " + std::to_string(rank) + ") failed: " + cause +
                         "; the other ranks stopped and every NCCL communicator was aborted"),
      rank(rank) {}

namespace {

// Device memory of one rank, freed without throwing.
class device_buffer {
public:
    explicit device_buffer(offload::backend::cuda& b, std::size_t bytes, std::string const& what)
        : backend_(b), bytes_(bytes), p_(b.device_allocate(bytes, what)) {}
    ~device_buffer() { backend_.device_deallocate(p_, bytes_); }
    device_buffer(device_buffer const&) = delete;
    device_buffer& operator=(device_buffer const&) = delete;
    void* get() const noexcept { return p_; }

private:
    offload::backend::cuda& backend_;
    std::size_t bytes_;
    void* p_;
};

// An event without timing that marks the end of a pass on the compute stream.
class pass_end_event {
public:
    explicit pass_end_event(offload::backend::cuda& b) : backend_(b), e_(b.event_create(false)) {}
    ~pass_end_event() { backend_.event_destroy(e_); }
    pass_end_event(pass_end_event const&) = delete;
    pass_end_event& operator=(pass_end_event const&) = delete;
    cudaEvent_t get() const noexcept { return e_; }

private:
    offload::backend::cuda& backend_;
    cudaEvent_t e_;
};

// The shard, made on the GPU's NUMA node, and where its pages landed.
struct placed_shard {
    shard s;
    numa::gpu_place place;
    std::optional<int> memory_node;
    std::string note;
};

placed_shard make_placed_shard(request const& q, int rank) {
    numa::gpu_place place = numa::place_of_gpu(rank);
    std::string note = place.note;
    if (place.node)
        if (std::string const why = numa::bind_thread_to_node(*place.node); !why.empty()) note = why;
    unsigned const threads = std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(q.gpus));
    shard s = make_shard(q.d, q.seed, q.layers, rank, q.gpus, threads);
    // The node of the first page of every buffer.
    std::set<int> nodes;
    bool unknown = false;
    for (auto const& layer : s.blocks)
        for (auto const& b : layer) {
            if (auto const n = numa::node_of_page(b.get()))
                nodes.insert(*n);
            else
                unknown = true;
        }
    std::optional<int> memory_node;
    if (!unknown && nodes.size() == 1) {
        memory_node = *nodes.begin();
    } else {
        std::string where;
        for (int n : nodes) where += (where.empty() ? "" : ", ") + std::to_string(n);
        std::string const pages = unknown ? "move_pages could not say where some of the shard's pages are"
                                          : "the shard's pages are on nodes " + where;
        note = note.empty() ? pages : note + "; " + pages;
    }
    return {std::move(s), std::move(place), memory_node, std::move(note)};
}

[[noreturn]] void fail_on_purpose(injected_failure const& f, offload::backend::cuda& b, std::string const& where) {
    std::string const what = "the failure that OFFLOAD_FFN_TP_FAIL injects " + where;
    if (f.what == injected_failure::kind::out_of_memory) {
        // A real allocation failure, through the backend's own path.
        void* p = b.device_allocate(std::size_t{1} << 50, what);
        b.device_deallocate(p, std::size_t{1} << 50);
        throw offload::out_of_memory(what + " (2^50 bytes were granted)", std::size_t{1} << 50, 0);
    }
    throw std::runtime_error(what);
}

template <class Residency, class Prefetch, class Profiler, class Codec>
void run_rank(request const& q, group& g, int rank, rank_report& out) {
    // This thread's own current device: its cuBLAS handle, kernels and NCCL calls use it.
    OFFLOAD_CUDA_TRY(cudaSetDevice(rank), "making device " + std::to_string(rank) + " current for rank " +
                                              std::to_string(rank));
    cudaDeviceProp prop{};
    OFFLOAD_CUDA_TRY(cudaGetDeviceProperties(&prop, rank), "reading the properties of device " + std::to_string(rank));
    out.device_name = prop.name;

    placed_shard const placed = make_placed_shard(q, rank);
    out.pci_bus_id = placed.place.pci_bus_id;
    out.gpu_numa_node = placed.place.node;
    out.memory_numa_node = placed.memory_node;
    out.numa_note = placed.note;
    out.shard_layer_bytes = placed.s.layer_bytes();
    offload::model const model = describe(placed.s, rank);

    offload::config cfg = q.cfg;
    cfg.summary_every = 0;  // one merged summary at the end, not one per rank on the same stderr
    offload::backend::cuda_options opts;
    opts.device = rank;

    // Declared first, destroyed last: its destructor aborts a communicator that was not finished.
    rank_comm comm(g, rank, rank);
    offload::layer_offloader<offload::backend::cuda, Residency, Prefetch, Profiler, Codec> off(model, cfg, opts);
    auto& backend = off.backend();
    cuda_stack stack(placed.s.local, backend.compute_stream());
    std::size_t const values = q.d.batch * q.d.hidden;
    device_buffer update(backend, values * 2, "rank " + std::to_string(rank) + "'s partial layer output");
    pass_end_event done[2] = {pass_end_event(backend), pass_end_event(backend)};
    abort_on_unwind const guard(comm);

    bool const injected_here = q.inject && q.inject->rank == rank;
    if (injected_here && !q.inject->pass) fail_on_purpose(*q.inject, backend, "at setup on rank " + std::to_string(rank));
    comm.init();

    std::size_t const total = q.warmup + q.passes;
    auto one_pass = [&](std::size_t p) {
        // At most two passes in flight, as the events profiler keeps: it reads
        // pass p-2's events when pass p begins, which must not block on a collective.
        if (p >= 2) comm.wait(done[p % 2].get(), "waiting for pass " + std::to_string(p - 2));
        stack.set_input(q.seed);
        {
            auto pass = off.pass();
            abort_on_unwind const pass_guard(comm);
            std::size_t l = 0;
            for (auto layer : pass) {
                if (injected_here && q.inject->pass == p && l == q.layers / 2)
                    fail_on_purpose(*q.inject, backend, "at pass " + std::to_string(p) + ", layer " + std::to_string(l) +
                                                            " on rank " + std::to_string(rank));
                stack.layer_update(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3), update.get());
                comm.all_reduce_sum_bf16(update.get(), values, backend.compute_stream());
                stack.add_to_activations(update.get());
                ++l;
            }
        }
        backend.record(done[p % 2].get(), backend.compute_stream());
    };
    auto wait_for_last = [&](std::size_t p) { comm.wait(done[p % 2].get(), "waiting for pass " + std::to_string(p)); };

    for (std::size_t p = 0; p < q.warmup; ++p) one_pass(p);
    if (q.warmup > 0) {
        wait_for_last(q.warmup - 1);
        off.reset_statistics();
    }
    auto const start = std::chrono::steady_clock::now();
    for (std::size_t p = q.warmup; p < total; ++p) one_pass(p);
    wait_for_last(total - 1);
    out.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::vector<std::uint16_t> bits = stack.output();  // the stream is idle: this waits for nothing
    for (std::uint16_t v : bits) out.checksum += static_cast<double>(bf16_to_float(v));
    if (q.keep_output) out.output = std::move(bits);
    out.stats = off.statistics();
    comm.finish();
}

void rank_thread(request const& q, group& g, int rank, rank_report& out) {
    try {
        ox::dispatch<policies>(q.policies, [&]<class Residency, class Prefetch, class Profiler, class Codec>() {
            run_rank<Residency, Prefetch, Profiler, Codec>(q, g, rank, out);
        });
    } catch (peer_failed const&) {
        // Another rank failed first; it reports the cause.
    } catch (std::exception const& e) {
        g.record(rank, e.what());
    } catch (...) {
        g.record(rank, "an exception that is not a std::exception");
    }
}

}  // namespace

result run(request const& q) {
    int devices = 0;
    OFFLOAD_CUDA_TRY(cudaGetDeviceCount(&devices), "counting the CUDA devices");
    if (q.gpus < 1 || q.gpus > devices)
        throw offload::configuration_error("ffn::tp::run: " + std::to_string(q.gpus) + " GPUs asked for, " +
                                           std::to_string(devices) + " found");
    if (q.passes < 1) throw offload::configuration_error("ffn::tp::run: no pass to run");
    group g(q.gpus);
    std::vector<rank_report> reports(static_cast<std::size_t>(q.gpus));
    std::vector<std::thread> threads;
    for (int r = 0; r < q.gpus; ++r) {
        reports[r].rank = reports[r].device = r;
        try {
            threads.emplace_back(rank_thread, std::cref(q), std::ref(g), r, std::ref(reports[r]));
        } catch (std::exception const& e) {
            g.record(r, std::string("starting its thread: ") + e.what());  // the started ranks stop at their next poll
            break;
        }
    }
    for (auto& t : threads) t.join();
    if (auto const f = g.first_failure()) throw rank_failure(f->rank, f->cause.empty() ? "unknown cause" : f->cause);

    result out;
    std::vector<offload::stats> per_rank;
    for (auto const& r : reports) {
        per_rank.push_back(r.stats);
        out.wall_ms = std::max(out.wall_ms, r.wall_ms);
    }
    out.merged = offload::multi::merge(std::move(per_rank));
    out.ranks = std::move(reports);
    return out;
}

}  // namespace ffn::tp
