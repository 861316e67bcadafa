#pragma once
// --gpus N of an example that splits its layers over N GPUs of this host
// (ranks.hpp). Header-only and free of NCCL, for the command line's
// translation unit: the build defines OFFLOAD_EXAMPLES_WITH_NCCL on the
// targets that link offload_examples_tp, and without it N > 1 is a usage
// error saying why. The checks run after those already added, so that the
// backend is resolved.
#include <functional>
#include <string>

#include <offload_examples/backend_choice.hpp>
#include <offload_examples/command_line.hpp>
#include <offload_examples/errors.hpp>
#include <offload_examples/offload_options.hpp>
#include <offload_examples/policy_lists.hpp>
#include <offload_examples/values.hpp>

namespace offload_examples::tp {

// Why N > 1 cannot run in this build, or nullptr where it can.
inline constexpr char const* gpus_unavailable_in_build =
#if defined(OFFLOAD_EXAMPLES_WITH_NCCL)
    nullptr;
#elif defined(OFFLOAD_EXAMPLES_WITH_CUDA)
    "N > 1 needs NCCL, which was not found when this program was built (configure with -DNCCL_ROOT=DIR)";
#else
    "N > 1 needs CUDA and NCCL, and this program was built without CUDA";
#endif

struct gpus_option_text {
    std::string help;  // the option's line in --help
    std::string note;  // --help's note: the split and what N > 1 needs
};

// Adds --gpus; with N > 1 checks, in order: NCCL in the build, --backend cuda,
// the example's `splits` (which throws usage_error when the model does not
// split N ways), the policies compiled for N > 1 (Policies, a policy_lists or
// policy_union), no --trace, a usable GPU, and N devices.
template <class Policies>
void add_gpus_option(command_line& cli, int& gpus, offload_options const& off, gpus_option_text const& text,
                     std::function<void(int)> splits) {
    cli.add({"gpus", "N", text.help, count(gpus, {1, 64})});
    cli.note(text.note);
    cli.check([&gpus, &off, splits = std::move(splits)] {
        if (gpus == 1) return;
        std::string const n = std::to_string(gpus);
        if (gpus_unavailable_in_build != nullptr)
            throw usage_error{"--gpus", n + ": " + gpus_unavailable_in_build, "allowed: 1"};
        if (off.backend != "cuda")
            throw usage_error{"--gpus", n + " GPUs need --backend cuda (the backend is " + off.backend + ")",
                              "allowed: 1 with --backend host"};
        splits(gpus);
        if (!compiled_combinations(union_t<Policies>{}).compiled(off.policies))
            throw usage_error{"--gpus",
                              n + " GPUs are compiled with " + describe(Policies{}) +
                                  " only (asked: " + describe_choice(Policies{}, off.policies) + ")",
                              "allowed: 1"};
        if (off.trace) throw usage_error{"--gpus", "--trace is for one GPU", "allowed: 1 with --trace"};
        if (auto const why = cuda_unavailable_reason(); !why.empty())
            throw environment_error{"--gpus", why, "use --gpus 1 --backend host"};
#if defined(OFFLOAD_EXAMPLES_WITH_CUDA)
        int devices = 0;
        cudaGetDeviceCount(&devices);
        cudaGetLastError();
        if (devices < gpus)
            throw environment_error{"--gpus", n + " GPUs asked for, " + std::to_string(devices) + " found",
                                    "allowed: 1 to " + std::to_string(devices)};
#endif
    });
}

}  // namespace offload_examples::tp
