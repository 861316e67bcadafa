// offload-ffn: a stack of Llama-shaped FFN layers run through
// offload::layer_offloader, with some layers resident on the device and the
// rest streamed from host memory on every pass. Prints the run's stats as JSON.
//
//   offload-ffn [--layers 32] [--hidden 4096] [--ffn 14336] [--batch 1] [--passes 10]
//               [--preset balanced|aggressive|extreme|manual --gpu-layers N]
//               [--residency first_n|interleaved|budget [--gpu-memory BYTES]]
//               [--prefetch none|next|lookahead:N] [--profiler events|none]
//               [--backend auto|cuda|host] [--stats-json PATH] [--seed S] ...
//
// The policies are template parameters of layer_offloader; the run-time flags
// pick one of the instantiations compiled into ffn_run_host.cpp and
// ffn_run_cuda.cpp (see ffn_run_impl.hpp). This file is the command line.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__unix__)
#include <unistd.h>
#endif

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <offload/config.hpp>
#include <offload/errors.hpp>
#include <offload/model.hpp>
#include <offload/stats.hpp>

#include "ffn_dims.hpp"
#include "ffn_host.hpp"
#include "ffn_run.hpp"

#if defined(OFFLOAD_FFN_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "ffn_cuda.hpp"
#endif

namespace po = boost::program_options;

namespace {

constexpr char const* program = "offload-ffn";

// --- errors ---------------------------------------------------------------------

// A bad command line: printed as one line, exit code 2.
struct usage_error {
    std::string option;   // with its dashes, e.g. "--layers"
    std::string what;     // what is wrong
    std::string allowed;  // what would be right
};

// A run that cannot go on here (no GPU for --backend cuda): one line, exit code 1.
struct environment_error {
    std::string option, what, allowed;
};

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\r', ' ');
    return s;
}

int report(std::string const& option, std::string const& what, std::string const& allowed, int code) {
    std::string line = std::string(program) + ": error: " + option + ": " + what;
    if (!allowed.empty()) line += "; " + allowed;
    std::cerr << one_line(line) << '\n';
    return code;
}

int report_failure(std::string const& what) {
    std::string text = what;
    if (text.rfind("offload: ", 0) == 0) text.erase(0, 9);
    std::cerr << one_line(std::string(program) + ": error: " + text) << '\n';
    return 1;
}

// --- values -----------------------------------------------------------------------

struct count_range {
    std::int64_t min, max;
};

// What each option accepts, as the error lines say it.
std::string allowed_text(std::string const& option);
po::options_description describe();

std::string quoted(std::string const& v) { return "'" + v + "'"; }

// Counts are parsed as signed 64-bit and range-checked: "-1" is -1, not 2^64-1.
std::int64_t parse_count(std::string const& option, std::string const& text, count_range r) {
    std::int64_t v = 0;
    auto const* first = text.data();
    auto const* last = text.data() + text.size();
    auto const [end, ec] = std::from_chars(first, last, v);
    if (ec == std::errc::result_out_of_range)
        throw usage_error{option, quoted(text) + " is out of range", allowed_text(option)};
    if (ec != std::errc{} || end != last || text.empty())
        throw usage_error{option, quoted(text) + " is not an integer", allowed_text(option)};
    if (v < r.min || v > r.max) {
        std::string what = std::to_string(v) + (v < r.min ? " is too small" : " is too large");
        if (v == 0 && r.min > 0) what = "0 is not allowed";
        if (v < 0 && r.min >= 0) what = std::to_string(v) + " is negative";
        throw usage_error{option, what, allowed_text(option)};
    }
    return v;
}

// A byte count: an integer, optionally with a binary suffix K, M, G, T (KiB, MiB, ...).
std::int64_t parse_bytes(std::string const& option, std::string const& text, count_range r) {
    std::string digits = text;
    std::int64_t unit = 1;
    static constexpr std::pair<char const*, int> suffixes[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40},
                                                               {"K", 10},   {"M", 20},   {"G", 30},   {"T", 40}};
    for (auto const& [suffix, shift] : suffixes) {
        std::string_view const s(suffix);
        if (digits.size() > s.size() && std::string_view(digits).substr(digits.size() - s.size()) == s) {
            digits.resize(digits.size() - s.size());
            unit = std::int64_t{1} << shift;
            break;
        }
    }
    std::int64_t const n = parse_count(option, digits, {std::numeric_limits<std::int64_t>::min(),
                                                        std::numeric_limits<std::int64_t>::max()});
    if (n > 0 && n > r.max / unit) throw usage_error{option, quoted(text) + " is too large", allowed_text(option)};
    // n * unit overflows for a large negative n; the unit does not change why n <= 0 is refused.
    if (n <= 0) return parse_count(option, std::to_string(n), r);
    return parse_count(option, std::to_string(n * unit), r);
}

std::string choose(std::string const& option, std::string const& text, std::vector<std::string> const& choices) {
    if (std::find(choices.begin(), choices.end(), text) == choices.end())
        throw usage_error{option, quoted(text) + " is not a known value", allowed_text(option)};
    return text;
}

// --- limits -----------------------------------------------------------------------

constexpr count_range layers_range{1, 4096};
constexpr count_range hidden_range{1, 65536};
constexpr count_range ffn_range{1, 262144};
constexpr count_range batch_range{1, 65536};
constexpr count_range passes_range{1, 1000000};
constexpr count_range warmup_range{0, 1000000};
constexpr count_range summary_every_range{0, 1000000};
constexpr count_range seed_range{0, std::numeric_limits<std::int64_t>::max()};
constexpr count_range gpu_memory_range{1, std::int64_t{1} << 50};

// The host backend's defaults: small enough for 10 passes in about a second on two cores.
constexpr ffn::dims host_default_dims{512, 1792, 1};

std::string allowed_text(std::string const& option) {
    auto range = [](count_range r) {
        return "allowed: an integer from " + std::to_string(r.min) + " to " + std::to_string(r.max);
    };
    if (option == "--layers") return range(layers_range);
    if (option == "--hidden") return range(hidden_range);
    if (option == "--ffn") return range(ffn_range);
    if (option == "--batch") return range(batch_range);
    if (option == "--passes") return range(passes_range);
    if (option == "--warmup") return range(warmup_range);
    if (option == "--summary-every") return range(summary_every_range);
    if (option == "--seed") return range(seed_range);
    if (option == "--gpu-layers") return "allowed: an integer from 0 to --layers, with --preset manual";
    if (option == "--gpu-memory")
        return "allowed: a byte count from 1 to 2^50 (suffixes K, M, G, T: powers of 1024), with --residency budget";
    if (option == "--preset") return "allowed: balanced (12 layers on the GPU), aggressive (8), extreme (4), manual";
    if (option == "--residency") return "allowed: first_n, interleaved, budget";
    if (option == "--prefetch") return "allowed: none, next, lookahead:1, lookahead:2, lookahead:4, lookahead:8";
    if (option == "--profiler") return "allowed: events, none";
    if (option == "--backend") return "allowed: auto, cuda, host";
    if (option == "--pin-memory") return "allowed: on, off";
    if (option == "--host-memory") return "allowed: copy, register (register needs --pin-memory on)";
    if (option == "--stats-json") return "allowed: a path to a file that can be written";
    if (option == "--trace") return "allowed: a path to a file that can be written, with --profiler events";
    // An unknown option or a stray argument: name the options there are.
    std::string names;
    auto const desc = describe();  // kept alive: options() refers into it
    for (auto const& d : desc.options()) names += (names.empty() ? "--" : ", --") + d->long_name();
    return "allowed options: " + names + " (see " + std::string(program) + " --help)";
}

// --- options ----------------------------------------------------------------------

struct cli_options {
    std::string backend;  // "host" or "cuda", resolved
    ffn::dims d;
    std::size_t layers = 32;
    std::size_t passes = 10;
    std::size_t warmup = 0;
    std::uint64_t seed = 1;
    std::string residency = "first_n";
    std::string prefetch = "lookahead:4";  // "none" or "lookahead:N"
    std::string profiler = "events";
    offload::config cfg;
    std::optional<std::string> stats_json_path;
    std::shared_ptr<std::ofstream> stats_json;
    std::optional<std::string> trace_path;
};

po::options_description describe() {
    po::options_description o("offload-ffn options");
    // clang-format off
    o.add_options()
        ("help,h", "print this help and exit")
        ("layers", po::value<std::string>()->value_name("N"), "layers in the stack (default 32)")
        ("hidden", po::value<std::string>()->value_name("N"),
            "hidden size (default 4096; 512 with the host backend)")
        ("ffn", po::value<std::string>()->value_name("N"),
            "FFN inner size (default 14336; 1792 with the host backend)")
        ("batch", po::value<std::string>()->value_name("N"), "rows of activations (default 1)")
        ("passes", po::value<std::string>()->value_name("N"), "passes over the stack (default 10)")
        ("warmup", po::value<std::string>()->value_name("N"),
            "passes run first and left out of the stats (default 0)")
        ("preset", po::value<std::string>()->value_name("NAME"),
            "balanced (12 layers on the GPU), aggressive (8), extreme (4) or manual (with --gpu-layers); "
            "default: the library default, 20 layers on the GPU")
        ("gpu-layers", po::value<std::string>()->value_name("N"), "layers kept on the GPU, with --preset manual")
        ("residency", po::value<std::string>()->value_name("POLICY"),
            "first_n (default), interleaved or budget: which layers stay on the GPU")
        ("gpu-memory", po::value<std::string>()->value_name("BYTES"),
            "device bytes for resident layers and staging slots, with --residency budget "
            "(default: free device memory less 1 GiB; suffixes K, M, G, T)")
        ("prefetch", po::value<std::string>()->value_name("POLICY"),
            "none (copy, wait, compute), next (= lookahead:2) or lookahead:N with N in 1, 2, 4, 8 "
            "(default lookahead:4): staging slots the copies run ahead into")
        ("profiler", po::value<std::string>()->value_name("NAME"),
            "events (default: timings in the stats) or none (counters only)")
        ("backend", po::value<std::string>()->value_name("NAME"),
            "auto (default: cuda if this build has CUDA and a GPU is usable, else host), cuda or host "
            "(a simulated device on the CPU holding 1 GiB + half the model, float32 weights)")
        ("pin-memory", po::value<std::string>()->value_name("on|off"),
            "page-locked host memory for streamed layers (default on)")
        ("host-memory", po::value<std::string>()->value_name("MODE"),
            "copy (default: into library-owned pinned memory) or register (page-lock the weights in place)")
        ("stats-json", po::value<std::string>()->value_name("PATH"), "also write the JSON output to PATH")
        ("trace", po::value<std::string>()->value_name("PATH"),
            "write a Chrome/Perfetto trace of the passes to PATH (with --profiler events; open in ui.perfetto.dev)")
        ("summary-every", po::value<std::string>()->value_name("N"),
            "print a profiling summary to stderr every N passes (default 0: never)")
        ("seed", po::value<std::string>()->value_name("S"), "seed of the weights and the input (default 1)");
    // clang-format on
    return o;
}

#if defined(OFFLOAD_FFN_WITH_CUDA)
constexpr bool built_with_cuda = true;
#else
constexpr bool built_with_cuda = false;
#endif

// Why there is no usable GPU, or "" when there is one.
std::string cuda_unavailable_reason() {
#if defined(OFFLOAD_FFN_WITH_CUDA)
    int count = 0;
    cudaError_t const status = cudaGetDeviceCount(&count);
    cudaGetLastError();
    if (status != cudaSuccess)
        return std::string("no usable CUDA device (cudaGetDeviceCount: ") + cudaGetErrorName(status) + ": " +
               cudaGetErrorString(status) + ")";
    if (count == 0) return "no CUDA device found";
    return "";
#else
    return "this offload-ffn was built without CUDA";
#endif
}

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
    return n * element_bytes(o.backend);
}

// Parses and checks everything; nullopt means --help was printed.
std::optional<cli_options> parse(int argc, char** argv) {
    auto const desc = describe();
    po::options_description all;
    all.add(desc);
    all.add_options()("unexpected-argument", po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add("unexpected-argument", -1);

    po::variables_map vm;
    // No guessing of abbreviated option names: --gpu would be ambiguous, --lay a typo.
    int const style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).style(style).run(), vm);
    po::notify(vm);

    // Boost takes the next token as the value even when it is an option, so
    // "--stats-json --layers 4" would write to a file named --layers: a value
    // that starts with -- is the next option, and this one lacks its value.
    for (auto const& [name, value] : vm)
        if (auto const* v = boost::any_cast<std::string>(&value.value()); v && v->rfind("--", 0) == 0)
            throw usage_error{"--" + name, "missing value (" + quoted(*v) + " is the next option)",
                              allowed_text("--" + name)};

    if (vm.count("unexpected-argument")) {
        auto const& v = vm["unexpected-argument"].as<std::vector<std::string>>();
        throw usage_error{quoted(v.front()), "unexpected argument (options start with --)", allowed_text("")};
    }
    if (vm.count("help")) {
        std::cout << "offload-ffn: runs a stack of Llama-shaped FFN layers (RMSNorm, gate/up/down GEMMs, SiLU) with\n"
                     "offload::layer_offloader and prints its stats as JSON on stdout.\n\n"
                  << desc << "\nCompiled backends: host" << (built_with_cuda ? ", cuda" : "")
                  << "; policies: " << ffn::cli::compiled_policies() << ".\n"
                     "Errors: a bad command line exits with 2, a failed run with 1, each with one line on stderr.\n";
        return std::nullopt;
    }

    auto text = [&](char const* name) -> std::optional<std::string> {
        if (!vm.count(name)) return std::nullopt;
        return vm[name].as<std::string>();
    };
    cli_options o;

    // Backend first: it decides the default sizes.
    std::string const backend = text("backend") ? choose("--backend", *text("backend"), {"auto", "cuda", "host"})
                                                : std::string("auto");
    if (backend == "cuda") {
        if (!built_with_cuda)
            throw usage_error{"--backend", "cuda: this offload-ffn was built without CUDA", "allowed: auto, host"};
        o.backend = "cuda";  // whether a GPU is usable is checked once the command line is known good
    } else if (backend == "host") {
        o.backend = "host";
    } else {
        o.backend = built_with_cuda && cuda_unavailable_reason().empty() ? "cuda" : "host";
    }
    if (o.backend == "host") o.d = host_default_dims;

    auto count = [&](char const* name, count_range r, auto& out) {
        if (auto const t = text(name))
            out = static_cast<std::remove_reference_t<decltype(out)>>(parse_count(std::string("--") + name, *t, r));
    };
    count("layers", layers_range, o.layers);
    count("hidden", hidden_range, o.d.hidden);
    count("ffn", ffn_range, o.d.ffn);
    count("batch", batch_range, o.d.batch);
    count("passes", passes_range, o.passes);
    count("warmup", warmup_range, o.warmup);
    count("seed", seed_range, o.seed);

    if (auto const t = text("residency"))
        o.residency = choose("--residency", *t, {"first_n", "interleaved", "budget"});
    if (auto const t = text("prefetch")) {
        std::string const p = choose("--prefetch", *t,
                                     {"none", "next", "lookahead:1", "lookahead:2", "lookahead:4", "lookahead:8"});
        o.prefetch = p == "next" ? "lookahead:2" : p;  // offload::prefetch::next_layer is lookahead<2>
    }
    if (auto const t = text("profiler")) o.profiler = choose("--profiler", *t, {"events", "none"});

    // Which layers stay: a preset (first_n, interleaved) or a byte budget (budget).
    if (auto const t = text("preset")) {
        std::string const p = choose("--preset", *t, {"balanced", "aggressive", "extreme", "manual"});
        if (o.residency == "budget")
            throw usage_error{"--preset", p + " sets a number of layers on the GPU, which --residency budget does not use",
                              "allowed: --gpu-memory BYTES with --residency budget, "
                              "--preset with first_n or interleaved"};
        if (p == "manual") {
            auto const g = text("gpu-layers");
            if (!g) throw usage_error{"--preset", "manual needs --gpu-layers N", allowed_text("--gpu-layers")};
            auto const n = parse_count("--gpu-layers", *g, {0, static_cast<std::int64_t>(o.layers)});
            o.cfg = offload::presets::manual(static_cast<std::size_t>(n));
        } else {
            o.cfg = p == "balanced" ? offload::presets::balanced
                    : p == "aggressive" ? offload::presets::aggressive
                                        : offload::presets::extreme;
        }
    }
    if (text("gpu-layers") && o.cfg.preset != "manual")
        throw usage_error{"--gpu-layers", "needs --preset manual", allowed_text("--gpu-layers")};
    if (auto const t = text("gpu-memory")) {
        if (o.residency != "budget")
            throw usage_error{"--gpu-memory", "only --residency budget uses it (residency is " + o.residency + ")",
                              allowed_text("--gpu-memory")};
        o.cfg.gpu_memory_budget = static_cast<std::size_t>(parse_bytes("--gpu-memory", *t, gpu_memory_range));
    }

    // After --preset, which replaces o.cfg.
    count("summary-every", summary_every_range, o.cfg.summary_every);
    if (auto const t = text("pin-memory")) o.cfg.pin_memory = choose("--pin-memory", *t, {"on", "off"}) == "on";
    if (auto const t = text("host-memory")) {
        bool const reg = choose("--host-memory", *t, {"copy", "register"}) == "register";
        if (reg && !o.cfg.pin_memory)
            throw usage_error{"--host-memory", "register page-locks memory, which --pin-memory off turns off",
                              allowed_text("--host-memory")};
        o.cfg.host_memory_mode = reg ? offload::host_memory::register_caller : offload::host_memory::copy_to_pinned;
    }

    if (backend == "cuda")
        if (auto const why = cuda_unavailable_reason(); !why.empty())
            throw environment_error{"--backend", "cuda: " + why, "use --backend host or --backend auto"};

    // The weights live in host memory (twice over for pinned copies of streamed layers).
    std::size_t const model = layer_bytes(o) * o.layers;
    if (std::size_t const ram = physical_memory_bytes(); ram != 0 && model > ram)
        throw usage_error{"--layers", "the model needs " + std::to_string(model) + " bytes of host memory (" +
                                          std::to_string(o.layers) + " layers of " + std::to_string(layer_bytes(o)) +
                                          " bytes), this machine has " + std::to_string(ram),
                          "allowed: fewer or smaller layers (--layers, --hidden, --ffn) that fit in host memory"};

    if (auto const t = text("stats-json")) {
        if (t->empty()) throw usage_error{"--stats-json", "the path is empty", allowed_text("--stats-json")};
        o.stats_json = std::make_shared<std::ofstream>(*t, std::ios::out | std::ios::trunc);
        if (!*o.stats_json)
            throw usage_error{"--stats-json", "cannot open " + quoted(*t) + " for writing (" + std::strerror(errno) + ")",
                              allowed_text("--stats-json")};
        o.stats_json_path = *t;
    }
    if (auto const t = text("trace")) {
        if (o.profiler != "events")
            throw usage_error{"--trace", "a trace needs timings, and --profiler is " + o.profiler,
                              allowed_text("--trace")};
        // Checked here, so that a path that cannot be written fails before the run.
        if (t->empty()) throw usage_error{"--trace", "the path is empty", allowed_text("--trace")};
        if (!std::ofstream(*t, std::ios::out | std::ios::trunc))
            throw usage_error{"--trace", "cannot open " + quoted(*t) + " for writing (" + std::strerror(errno) + ")",
                              allowed_text("--trace")};
        o.trace_path = *t;
    }
    return o;
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
    std::size_t const esize = element_bytes(o.backend);
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
                if (o.backend == "cuda") {
#if defined(OFFLOAD_FFN_WITH_CUDA)
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

offload::model describe_model(host_weights const& w) {
    offload::model m;
    for (auto const& layer : w.blocks) {
        std::vector<offload::weight_buffer> buffers;
        for (std::size_t b = 0; b < layer.size(); ++b) buffers.emplace_back(layer[b].get(), w.bytes[b]);
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
    q.trace_path = o.trace_path;
    q.seed = o.seed;
    q.residency = o.residency;
    q.prefetch = o.prefetch;
    q.profiler = o.profiler;
    q.cfg = o.cfg;
    q.host_device_capacity = host_device_capacity(o);
#if defined(OFFLOAD_FFN_WITH_CUDA)
    if (o.backend == "cuda") return ffn::cli::run_on_cuda(q, m);
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
        {"backend", o.backend},
        {"device", r.device},
        {"dtype", r.dtype},
        {"layers", o.layers},
        {"hidden", o.d.hidden},
        {"ffn", o.d.ffn},
        {"batch", o.d.batch},
        {"passes", o.passes},
        {"warmup", o.warmup},
        {"seed", o.seed},
        {"residency", o.residency},
        {"prefetch", o.prefetch},
        {"profiler", o.profiler},
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
    if (o.backend == "host") run["simulated_device_bytes"] = host_device_capacity(o);
    return run;
}

int run_main(int argc, char** argv) {
    std::optional<cli_options> parsed = parse(argc, argv);
    if (!parsed) return 0;
    cli_options const& o = *parsed;

    host_weights const weights = make_weights(o);
    offload::model const m = describe_model(weights);
    ffn::cli::run_result const r = run(o, m);

    boost::json::object out;
    out["run"] = run_json(o, r);
    out["stats"] = boost::json::value_from(r.stats);
    std::string const text = boost::json::serialize(out);
    std::cout << text << '\n';
    if (o.stats_json) {
        *o.stats_json << text << '\n';
        o.stats_json->flush();
        if (!*o.stats_json) return report_failure("writing " + quoted(*o.stats_json_path) + " failed");
    }
    return std::cout.flush() ? 0 : 1;
}

// Boost.Program_options errors, in the one-line form.
int report_po_error(po::error const& e) {
    auto const* named = dynamic_cast<po::error_with_option_name const*>(&e);
    std::string option = named ? named->get_option_name() : std::string();
    if (option.empty()) option = "command line";
    if (dynamic_cast<po::unknown_option const*>(&e)) return report(option, "unknown option", allowed_text(""), 2);
    if (dynamic_cast<po::multiple_occurrences const*>(&e))
        return report(option, "given more than once", allowed_text(option), 2);
    if (auto const* syntax = dynamic_cast<po::invalid_command_line_syntax const*>(&e)) {
        switch (syntax->kind()) {
            case po::invalid_syntax::missing_parameter: return report(option, "missing value", allowed_text(option), 2);
            case po::invalid_syntax::extra_parameter: return report(option, "takes no value", allowed_text(""), 2);
            default: break;
        }
    }
    if (dynamic_cast<po::ambiguous_option const*>(&e)) return report(option, "ambiguous option", allowed_text(""), 2);
    return report(option, e.what(), allowed_text(option), 2);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run_main(argc, argv);
    } catch (usage_error const& e) {
        return report(e.option, e.what, e.allowed, 2);
    } catch (environment_error const& e) {
        return report(e.option, e.what, e.allowed, 1);
    } catch (po::error const& e) {
        return report_po_error(e);
    } catch (std::bad_alloc const&) {
        return report_failure("out of host memory");
    } catch (std::exception const& e) {
        return report_failure(e.what());
    } catch (...) {
        return report_failure("unknown exception");
    }
}
