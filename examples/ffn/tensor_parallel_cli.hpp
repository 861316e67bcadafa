#pragma once
// offload-ffn's --gpus option: N > 1 runs the tensor-parallel stack of
// tensor_parallel.hpp, where the build found NCCL; without NCCL, --gpus 1
// (the default, the single-GPU run) is the only value, and N > 1 is a usage
// error saying so. Kept apart from main.cpp, which only adds the option and
// hands the run over.
//
// Output of a run with N > 1: a report, a line on the run and the ranks side
// by side (offload::multi::write_summary); with --json instead, one line of
// JSON, {"run": {...}, "stats": merged}, "stats" being
// offload::multi::merged_stats (counters and bytes summed, time the slowest
// rank's, per_rank holding each rank's own stats) and run.ranks saying each
// rank's device, PCI bus id and NUMA nodes. --stats-json writes that JSON.
// The ranks print no periodic summary (--summary-every): theirs would
// interleave on one stderr.
//
// Test hook: the environment variable OFFLOAD_FFN_TP_FAIL=RANK:WHEN:WHAT makes
// rank RANK fail on purpose, WHEN being "setup" (before the communicator is
// made) or a pass number (at its middle layer, before the all-reduce), WHAT
// "exception" or "oom" (a 2^50-byte device allocation). The run then exits
// with 1 and one line naming the rank; the GPU tests use it to show that no
// rank hangs.
#include <cstddef>
#include <cstdint>

#include <offload_examples/command_line.hpp>
#include <offload_examples/offload_options.hpp>

#include "ffn_dims.hpp"

namespace ffn::tp::cli {

namespace ox = offload_examples;

// What a tensor-parallel run of offload-ffn needs from its command line.
struct run_options {
    dims d;
    std::size_t layers = 0, passes = 0, warmup = 0;
    std::uint64_t seed = 0;
    int gpus = 1;
    bool json = false;                       // the JSON on stdout instead of the report
    bool graph = false, decode_loop = false;  // single-GPU modes: a usage error with N > 1
};

// Adds --gpus to cli, storing into gpus, with a check that runs after the
// checks already added (so that off.backend is resolved and d holds the
// model's shape).
void add_gpus_option(ox::command_line& cli, int& gpus, ox::offload_options const& off, dims const& d);

// Runs with o.gpus > 1 and prints the JSON; returns the exit code.
int run_main(run_options const& o, ox::offload_options const& off);

}  // namespace ffn::tp::cli
