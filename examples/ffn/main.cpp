// offload-ffn: a stack of Llama-shaped FFN layers run through
// offload::layer_offloader, with some layers resident on the device and the
// rest streamed from host memory on every pass. Prints a report like a
// benchmark tool's: the run, the floor of a pass measured in the same process
// (max(streamed bytes / pinned H2D rate, all-resident pass time)), the pass
// time over it, and the offloader's summary table; --json prints the full
// stats as JSON instead.
//
//   offload-ffn [--layers 32] [--hidden 4096] [--ffn 14336] [--batch 1] [--passes 10]
//               [--preset balanced|aggressive|extreme|manual --gpu-layers N]
//               [--residency first_n|interleaved|budget [--gpu-memory BYTES]]
//               [--prefetch none|next|lookahead:N] [--profiler events|none]
//               [--codec none|int8|fp8|int4|lossless] [--decode-loop] [--json]
//               [--backend auto|cuda|host] [--gpus N] [--stats-json PATH] [--seed S] ...
//
// The offload options, the error lines and the policy dispatch are the
// examples' shared command line (examples/common/offload_examples); this file
// adds the stack's options and runs it. The policies are template parameters
// of layer_offloader; the run-time flags pick one of the instantiations
// compiled into ffn_run_host.cpp and ffn_run_cuda.cpp (see ffn_run_impl.hpp).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iostream>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#if defined(__unix__)
#include <unistd.h>
#endif

#include <boost/json.hpp>

#include <offload/config.hpp>
#include <offload/model.hpp>
#include <offload/errors.hpp>
#include <offload/stats.hpp>
#include <offload/summary.hpp>
#include <offload/tensor.hpp>

#include <offload_examples/cli.hpp>
#include <offload_examples/figures.hpp>
#include <offload_examples/floor_report.hpp>

#include "ffn_dims.hpp"
#include "ffn_host.hpp"
#include "ffn_policies.hpp"
#include "ffn_run.hpp"
#include "tensor_parallel_cli.hpp"

#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
#include "ffn_cuda.hpp"
#endif

namespace {

namespace ox = offload_examples;

// What a run needs, once the command line is parsed and checked.
struct cli_options {
    ffn::dims d;
    std::size_t layers = 32;
    std::size_t passes = 10;
    std::size_t warmup = 0;
    std::uint64_t seed = 1;
    bool decode_loop = false;
    bool graph = false;
    bool json = false;  // the full JSON on stdout instead of the report
    ox::offload_options off;
};

ffn::cli::pass_mode mode_of(cli_options const& o) {
    return o.decode_loop ? ffn::cli::pass_mode::decode_loop : ffn::cli::pass_mode::back_to_back;
}

// The host backend's defaults: small enough for 10 passes in about a second on two cores.
constexpr ffn::dims host_default_dims{512, 1792, 1};

std::size_t physical_memory_bytes() {
#if defined(__unix__) && defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    long const pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
#endif
    return 0;
}

std::size_t element_bytes(std::string const& backend) { return backend == "cuda" ? 2 : 4; }

std::size_t layer_bytes(cli_options const& o) {
    std::size_t n = 0;
    for (auto e : ffn::layer_buffer_elements(o.d)) n += e;
    return n * element_bytes(o.off.backend);
}

// --- weights in host memory ---------------------------------------------------

// Each buffer in its own page-aligned, page-padded allocation: cudaHostRegister
// (--host-memory register) page-locks whole pages, and two buffers sharing a
// page would make the second registration fail.
struct page_deleter {
    void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{4096}); }
};
using page_block = std::unique_ptr<void, page_deleter>;

struct host_weights {
    std::vector<std::vector<page_block>> blocks;  // [layer][buffer]
    std::vector<std::size_t> bytes;               // per buffer
};

// Generates every layer, in parallel over layers (each layer's values depend on
// (seed, layer) only, so the thread count changes nothing).
host_weights make_weights(cli_options const& o) {
    auto const elements = ffn::layer_buffer_elements(o.d);
    std::size_t const esize = element_bytes(o.off.backend);
    host_weights w;
    for (auto n : elements) w.bytes.push_back(n * esize);
    w.blocks.resize(o.layers);
    for (auto& layer : w.blocks)
        for (auto b : w.bytes) {
            std::size_t const padded = (b + 4095) / 4096 * 4096;
            layer.emplace_back(::operator new(padded, std::align_val_t{4096}));
        }

    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    std::atomic<bool> failed{false};
    auto work = [&] {
        try {
            for (std::size_t l; !failed && (l = next++) < o.layers;) {
                auto& blocks = w.blocks[l];
                if (o.off.backend == "cuda") {
#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
                    std::uint16_t* const out[4] = {static_cast<std::uint16_t*>(blocks[0].get()),
                                                   static_cast<std::uint16_t*>(blocks[1].get()),
                                                   static_cast<std::uint16_t*>(blocks[2].get()),
                                                   static_cast<std::uint16_t*>(blocks[3].get())};
                    ffn::fill_layer_weights(o.d, o.seed, l, out);
#endif
                } else {
                    float* const out[4] = {static_cast<float*>(blocks[0].get()), static_cast<float*>(blocks[1].get()),
                                           static_cast<float*>(blocks[2].get()), static_cast<float*>(blocks[3].get())};
                    ffn::fill_layer_weights_f32(o.d, o.seed, l, out);
                }
            }
        } catch (...) {
            if (!failed.exchange(true)) failure = std::current_exception();
        }
    };
    unsigned const hw = std::max(1u, std::thread::hardware_concurrency());
    std::size_t const threads = std::min<std::size_t>(hw, o.layers);
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
    return w;
}

// Each buffer with its dtype and shape, so that a codec can encode it: gate
// and up [ffn][hidden], down [hidden][ffn]; the RMSNorm weight [1][hidden]
// stays exact. The host backend's weights are float32, which the codecs
// (bf16 only) leave as they are.
offload::model describe_model(cli_options const& o, host_weights const& w) {
    offload::dtype const type = o.off.backend == "cuda" ? offload::dtype::bf16 : offload::dtype::fp32;
    std::size_t const H = o.d.hidden, F = o.d.ffn;
    offload::model m;
    for (std::size_t l = 0; l < w.blocks.size(); ++l) {
        auto const& layer = w.blocks[l];
        std::string const prefix = "layers." + std::to_string(l) + ".";
        offload::tensor_info const shapes[4] = {{prefix + "norm", type, 1, H, false},
                                                {prefix + "gate", type, F, H},
                                                {prefix + "up", type, F, H},
                                                {prefix + "down", type, H, F}};
        std::vector<offload::weight_buffer> buffers;
        for (std::size_t b = 0; b < layer.size(); ++b) {
            if (shapes[b].bytes() != w.bytes[b])
                throw offload::configuration_error("offload-ffn: buffer " + shapes[b].name + " holds " +
                                                   std::to_string(w.bytes[b]) + " bytes, its shape " +
                                                   std::to_string(shapes[b].bytes()));
            buffers.emplace_back(layer[b].get(), shapes[b]);
        }
        m.add_layer(std::move(buffers));
    }
    return m;
}

// --- the run --------------------------------------------------------------------

// The host backend's simulated device: 1 GiB (what residency::budget keeps in
// reserve by default) + half the model, so that --residency budget has
// something to plan with.
std::size_t host_device_capacity(cli_options const& o) { return (std::size_t{1} << 30) + layer_bytes(o) * o.layers / 2; }

ffn::cli::run_result run(cli_options const& o, offload::model const& m) {
    ffn::cli::run_request q;
    q.d = o.d;
    q.layers = o.layers;
    q.passes = o.passes;
    q.warmup = o.warmup;
    q.trace_path = o.off.trace;
    q.seed = o.seed;
    q.mode = mode_of(o);
    q.graph = o.graph;
    q.policies = o.off.policies;
    q.cfg = o.off.cfg;
    q.host_device_capacity = host_device_capacity(o);
#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
    if (o.off.backend == "cuda") return ffn::cli::run_on_cuda(q, m);
#endif
    return ffn::cli::run_on_host(q, m);
}

// --- output ---------------------------------------------------------------------

boost::json::value finite_or_null(double v) {
    if (std::isfinite(v)) return v;
    return nullptr;
}

boost::json::object run_json(cli_options const& o, ffn::cli::run_result const& r) {
    double const flops_per_pass = ffn::flops_per_layer(o.d) * static_cast<double>(o.layers);
    double const ms_per_pass = r.wall_ms / static_cast<double>(o.passes);
    boost::json::object run{
        {"backend", o.off.backend},
        {"device", r.device},
        {"dtype", r.dtype},
        {"layers", o.layers},
        {"hidden", o.d.hidden},
        {"ffn", o.d.ffn},
        {"batch", o.d.batch},
        {"passes", o.passes},
        {"warmup", o.warmup},
        {"seed", o.seed},
        {"mode", ffn::cli::pass_mode_name(mode_of(o))},
        {"graph", o.graph},
        {"residency", o.off.policies.residency},
        {"prefetch", o.off.policies.prefetch},
        {"profiler", o.off.policies.profiler},
        {"codec", o.off.policies.codec},
        {"layer_bytes", layer_bytes(o)},
        {"model_bytes", layer_bytes(o) * o.layers},
        {"flops_per_pass", flops_per_pass},
        // Host clock around all timed passes, up to the last one's end on the device.
        {"wall_ms", finite_or_null(r.wall_ms)},
        {"wall_ms_per_pass", finite_or_null(ms_per_pass)},
        {"tflops", finite_or_null(ms_per_pass > 0 ? flops_per_pass / (ms_per_pass * 1e9) : 0.0)},
        // Sum of the final activations x [batch][hidden] of the last pass.
        {"output_checksum", finite_or_null(r.checksum)},
    };
    if (o.off.backend == "host") run["simulated_device_bytes"] = host_device_capacity(o);
    if (o.off.policies.codec != "none") {
        run["codec_encoded_buffers"] = r.stats.codec_buffers.size();
        if (r.stats.codec_buffers.empty())
            run["codec_note"] = "no buffer was encoded (stats has no codec_buffers): the codecs encode bf16 "
                                "weights only, and this backend's weights are " + r.dtype;
        // ||y_codec - y_none|| / ||y_none|| over the last pass's final activations,
        // y_none from one pass of the same stack and seed without a codec.
        double const nan = std::numeric_limits<double>::quiet_NaN();
        run["codec_output_relative_l2"] = finite_or_null(r.codec_output_relative_l2.value_or(nan));
    }
    ox::add_floor_json(run, r.floor, ms_per_pass);
    return run;
}

// About 15 lines: the run, its floor, the pass against it; then the offloader's summary table.
void write_report(std::ostream& out, cli_options const& o, ffn::cli::run_result const& r) {
    auto const& s = r.stats;
    auto const& p = o.off.policies;
    out << "offload-ffn: " << o.off.backend << " backend on " << r.device << ", " << r.dtype << "\n";
    out << "  stack      " << o.layers << " layers of " << ox::bytes_text(layer_bytes(o)) << " (hidden " << o.d.hidden
        << ", ffn " << o.d.ffn << "), batch " << o.d.batch << "\n";
    out << "  policies   residency " << p.residency << " (" << s.resident_layers.size() << " resident, "
        << s.streamed_layers.size() << " streamed), prefetch " << p.prefetch << ", profiler " << p.profiler
        << ", codec " << p.codec << "\n";
    out << "  passes     " << o.passes << " timed after " << o.warmup << " warm-up, "
        << ffn::cli::pass_mode_name(mode_of(o)) << (o.graph ? ", replayed as a CUDA graph" : "")
        << (o.decode_loop ? " (after each pass the host waits and reads one value back)"
                          : " (the host never waits between passes)")
        << "\n";
    ox::write_floor_lines(out, r.floor, r.wall_ms / static_cast<double>(o.passes),
                          "mean of " + std::to_string(o.passes) + (o.passes == 1 ? " pass" : " passes") +
                              ", host clock");
    out << "  output     checksum " << ox::printed("%.6g", r.checksum);
    if (p.codec != "none") {
        if (r.codec_output_relative_l2 && std::isfinite(*r.codec_output_relative_l2))
            out << ox::printed(", relative L2 %.4g against codec none", *r.codec_output_relative_l2);
        else
            out << ", relative L2 - (the output without a codec is all zeros)";
        if (s.codec_buffers.empty()) out << "; " << p.codec << " encoded no buffer (" << r.dtype << " weights)";
    }
    out << "\n\n";
    offload::write_summary(out, s);
}

int run_main(cli_options const& o) {
    host_weights const weights = make_weights(o);
    offload::model const m = describe_model(o, weights);
    ffn::cli::run_result const r = run(o, m);

    boost::json::object out;
    out["run"] = run_json(o, r);
    out["stats"] = boost::json::value_from(r.stats);
    std::string const json = boost::json::serialize(out) + '\n';
    if (o.json)
        std::cout << json;
    else
        write_report(std::cout, o, r);
    if (o.off.stats_json) ox::write_text_file(*o.off.stats_json, json);
    return std::cout.flush() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    ox::command_line cli("offload-ffn",
                         "offload-ffn: runs a stack of Llama-shaped FFN layers (RMSNorm, gate/up/down GEMMs, SiLU) "
                         "with\noffload::layer_offloader and prints a report on stdout: the run, the floor of a pass "
                         "measured in\nthis process, max(streamed bytes / pinned H2D rate, all-resident pass "
                         "time), the pass time over it,\nand the offloader's summary table (--json: the full "
                         "stats as JSON instead).");
    cli_options o;
    std::optional<std::size_t> hidden, ffn_size;  // their defaults depend on the backend
    cli.add({"layers", "N", "layers in the stack (default 32)", ox::count(o.layers, {1, 4096})});
    cli.add({"hidden", "N", "hidden size (default 4096; 512 with the host backend)", ox::count(hidden, {1, 65536})});
    cli.add({"ffn", "N", "FFN inner size (default 14336; 1792 with the host backend)",
             ox::count(ffn_size, {1, 262144})});
    cli.add({"batch", "N", "rows of activations (default 1)", ox::count(o.d.batch, {1, 65536})});
    cli.add({"passes", "N", "passes over the stack (default 10)", ox::count(o.passes, {1, 1000000})});
    cli.add({"warmup", "N", "passes run first and left out of the stats (default 0)",
             ox::count(o.warmup, {0, 1000000})});
    cli.add({"seed", "S", "seed of the weights and the input (default 1)",
             ox::count(o.seed, {0, std::numeric_limits<std::int64_t>::max()})});
    cli.add({"decode-loop", "",
             "after every pass, wait for it and read one output value back before the next, as a sampler "
             "does (default: passes back to back)",
             ox::flag(o.decode_loop)});
    cli.add({"graph", "",
             "capture one pass as a CUDA graph and replay it for every pass, the all-resident floor run too "
             "(cuda backend only)",
             ox::flag(o.graph)});
    cli.add({"json", "", "print the full JSON (run and stats) on stdout instead of the report", ox::flag(o.json)});
    o.off.layer_count = [&o] { return o.layers; };
    o.off.layer_count_name = "--layers";
    ox::add_offload_options<ffn::cli::policies>(cli, o.off);
    cli.note("The host backend simulates a device holding 1 GiB + half the model, with float32 weights; the cuda "
             "backend runs bf16 weights with cuBLAS.");
    cli.note("--codec: compiled only with --residency first_n, --prefetch lookahead:4 and either --profiler (any "
             "other combination with a codec other than none is a usage error). It encodes the gate, up and down "
             "weights (bf16, so on the cuda backend only: on the host backend's float32 weights it encodes nothing, "
             "and the output says so); the RMSNorm weight stays exact. A run with a codec then runs one pass of the "
             "same stack and seed without a codec and prints run.codec_output_relative_l2, ||y_codec - y_none|| / "
             "||y_none|| over the last pass's activations.");

    cli.check([&] {  // once the backend is known
        if (o.graph && o.off.backend != "cuda")
            throw ox::usage_error{"--graph", "captures CUDA graphs, and the backend is " + o.off.backend,
                                  "allowed: --graph with --backend cuda (or auto on a machine with a GPU)"};
        ffn::dims const defaults = o.off.backend == "host" ? host_default_dims : ffn::dims{};
        o.d.hidden = hidden.value_or(defaults.hidden);
        o.d.ffn = ffn_size.value_or(defaults.ffn);
        // The weights live in host memory (twice over for pinned copies of streamed layers).
        std::size_t const model = layer_bytes(o) * o.layers;
        if (std::size_t const ram = physical_memory_bytes(); ram != 0 && model > ram)
            throw ox::usage_error{"--layers",
                                  "the model needs " + std::to_string(model) + " bytes of host memory (" +
                                      std::to_string(o.layers) + " layers of " + std::to_string(layer_bytes(o)) +
                                      " bytes), this machine has " + std::to_string(ram),
                                  "allowed: fewer or smaller layers (--layers, --hidden, --ffn) that fit in host memory"};
    });
    int gpus = 1;
    ffn::tp::cli::add_gpus_option(cli, gpus, o.off, o.d);
    return cli.run(argc, argv, [&] {
        if (gpus > 1)
            return ffn::tp::cli::run_main({o.d, o.layers, o.passes, o.warmup, o.seed, gpus, o.json, o.graph, o.decode_loop},
                                          o.off);
        return run_main(o);
    });
}
