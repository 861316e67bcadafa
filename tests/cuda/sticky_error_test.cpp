// A sticky CUDA error in the user's compute surfaces as offload::backend_error,
// not as a hang, and the offloader can still be destroyed afterwards.
//
// Layer k's compute writes through a bad pointer ((int*)0x10) on the layer's
// stream: an illegal-address fault, which ends the CUDA context for the whole
// process. So this is an executable of its own (ctest runs it in a process of
// its own), not a GoogleTest case in offload_cuda_tests.
//
//   offload_cuda_sticky_error            (mode "wait", the default) the compute
//       of layer k waits until its stream reports the fault, so the next call
//       the library makes, releasing layer k, is the first to see the error:
//       the backend_error must name cudaErrorIllegalAddress and "layer k".
//   offload_cuda_sticky_error --no-wait  the compute of layer k just goes on,
//       as a real application would; the error may surface at any later call
//       (a later layer, a later pass, synchronize()): it must surface as a
//       backend_error naming cudaErrorIllegalAddress within a bounded number
//       of passes; where it surfaced is printed.
//
// In both modes the offloader is then destroyed: its destructor must return
// (not hang, not throw, which would terminate) and print the error to stderr.
// A watchdog thread ends the process with 124 if anything takes longer than
// watchdog_seconds.
//
// Exit status: 0 the expected error was caught, 1 it was not (or something
// else went wrong), 77 no GPU (ctest SKIP_RETURN_CODE), 124 timeout.
#include <offload/layer_offloader.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <cuda_runtime_api.h>

#include <offload/backend/cuda.hpp>
#include <offload/errors.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/profile/events.hpp>
#include <offload/residency/first_n.hpp>

#include "kernels.hpp"

namespace {

using offload::cuda_testing::add_in_place;
using offload::cuda_testing::write_int;

constexpr int exit_pass = 0, exit_fail = 1, exit_skip = 77, exit_timeout = 124;
constexpr int watchdog_seconds = 60;

constexpr std::size_t layer_count = 8;
constexpr std::size_t resident_count = 2;  // first_n: layers 0 and 1
constexpr std::size_t bad_layer = 5;       // a streamed layer
constexpr std::size_t elements = 4096;     // uint32 addend per layer
constexpr std::size_t max_passes = 50;     // --no-wait: the error must surface before this
constexpr char const* expected_error = "cudaErrorIllegalAddress";

using offloader = offload::layer_offloader<offload::backend::cuda, offload::residency::first_n,
                                           offload::prefetch::lookahead<2>, offload::profile::events>;

struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void check(cudaError_t status, char const* what) {
    if (status != cudaSuccess)
        throw failure(std::string(what) + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

// Ends the process if the test has not finished in time: a hang is a failure,
// and ctest's own timeout would only say "Timeout".
class watchdog {
public:
    explicit watchdog(int seconds)
        : thread_([this, seconds] {
              std::unique_lock lock(mutex_);
              if (!done_cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
                  std::fprintf(stderr, "FAILED: still running after %d s (a hang)\n", seconds);
                  std::fflush(stderr);
                  std::_Exit(exit_timeout);
              }
          }) {}
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        done_cv_.notify_one();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable done_cv_;
    bool done_ = false;
    std::thread thread_;
};

// Collects what is written to stderr (fd 2) while it lives, then writes it to
// the real stderr too.
class stderr_capture {
public:
    stderr_capture() {
        std::fflush(stderr);
        file_ = std::tmpfile();
        if (file_ == nullptr) throw failure("tmpfile failed");
        saved_ = ::dup(2);
        if (saved_ < 0 || ::dup2(::fileno(file_), 2) < 0) throw failure("redirecting stderr failed");
    }
    stderr_capture(stderr_capture const&) = delete;
    stderr_capture& operator=(stderr_capture const&) = delete;
    ~stderr_capture() { restore(); }

    std::string finish() {
        restore();
        std::string text;
        std::rewind(file_);
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) text.append(buf, n);
        std::fclose(file_);
        file_ = nullptr;
        std::fputs(text.c_str(), stderr);
        return text;
    }

private:
    void restore() noexcept {
        if (saved_ < 0) return;
        std::fflush(stderr);
        ::dup2(saved_, 2);
        ::close(saved_);
        saved_ = -1;
    }
    std::FILE* file_ = nullptr;
    int saved_ = -1;
};

bool contains(std::string const& text, std::string const& part) { return text.find(part) != std::string::npos; }

// Waits until every piece of work on the stream has run or the stream reports
// an error; returns what cudaStreamQuery last said. Querying does not clear a
// sticky error: every later call of the process sees it too.
cudaError_t wait_for_stream(cudaStream_t s) {
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(watchdog_seconds / 2);
    cudaError_t status = cudaErrorNotReady;
    while ((status = cudaStreamQuery(s)) == cudaErrorNotReady && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    return status;
}

int run(bool wait_in_layer) {
    // The model: each layer holds one read-only addend buffer.
    std::vector<std::vector<std::uint32_t>> addends(layer_count, std::vector<std::uint32_t>(elements, 1));
    offload::model m;
    for (auto& a : addends) m.add_layer({{static_cast<void const*>(a.data()), a.size() * sizeof(std::uint32_t)}});

    void* device = nullptr;
    check(cudaMalloc(&device, elements * sizeof(std::uint32_t)), "cudaMalloc");
    auto* const accumulator = static_cast<std::uint32_t*>(device);
    check(cudaMemset(accumulator, 0, elements * sizeof(std::uint32_t)), "cudaMemset");

    std::optional<offloader> off;
    off.emplace(m, offload::presets::manual(resident_count));
    if (off->is_resident(bad_layer)) throw failure("layer " + std::to_string(bad_layer) + " should be streamed");

    // One clean pass first, so that the fault hits an offloader in its steady state.
    for (auto layer : off->pass())
        check(add_in_place(accumulator, layer.buffer_as<std::uint32_t const>(0), elements, layer.stream()),
              "add_in_place");
    off->synchronize();

    std::optional<offload::backend_error> caught;
    std::string where;  // "pass P, layer L" or "after the passes"
    cudaError_t seen_in_layer = cudaSuccess;
    auto const started = std::chrono::steady_clock::now();
    std::size_t pass = 0, layer_reached = 0;
    try {
        for (pass = 1; pass <= max_passes; ++pass) {
            for (auto layer : off->pass()) {
                layer_reached = layer.index();
                if (pass == 1 && layer.index() == bad_layer) {
                    check(write_int(reinterpret_cast<int*>(0x10), 1, layer.stream()), "launching the bad write");
                    if (wait_in_layer) seen_in_layer = wait_for_stream(layer.stream());
                } else {
                    // Launches may fail too once the context is gone: that is the user's
                    // error to handle, not the library's; go on to the library's next call.
                    (void)add_in_place(accumulator, layer.buffer_as<std::uint32_t const>(0), elements,
                                       layer.stream());
                }
            }
        }
        where = "after the passes";
        off->synchronize();
    } catch (offload::backend_error const& e) {
        caught = e;
        if (where.empty())
            where = "pass " + std::to_string(pass) + " (last layer entered: " + std::to_string(layer_reached) + ")";
    }
    double const seconds_to_error =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    // The offloader goes, error and all: its destructor must return and say why it could not synchronise.
    stderr_capture capture;
    auto const destroy_started = std::chrono::steady_clock::now();
    off.reset();
    double const seconds_to_destroy =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - destroy_started).count();
    std::string const destructor_output = capture.finish();
    cudaFree(accumulator);  // reports the sticky error; nothing to do about it

    int status = exit_pass;
    auto fail = [&](std::string const& why) {
        std::cout << "FAILED: " << why << '\n';
        status = exit_fail;
    };
    std::cout << "mode: " << (wait_in_layer ? "wait" : "no-wait") << '\n';
    if (wait_in_layer)
        std::cout << "cudaStreamQuery in layer " << bad_layer << " said: " << cudaGetErrorName(seen_in_layer) << '\n';
    if (!caught) {
        fail("no offload::backend_error within " + std::to_string(max_passes) + " passes and synchronize()");
    } else {
        std::string const what = caught->what();
        std::cout << "caught offload::backend_error " << where << " after " << seconds_to_error << " s:\n  " << what
                  << "\n  error_name: " << caught->error_name << "\n  operation: " << caught->operation << '\n';
        if (!contains(what, expected_error) || caught->error_name != expected_error)
            fail(std::string("the error does not name ") + expected_error);
        if (wait_in_layer) {
            if (seen_in_layer != cudaErrorIllegalAddress)
                fail(std::string("the bad write did not fault as expected: cudaStreamQuery said ") +
                     cudaGetErrorName(seen_in_layer));
            std::string const layer_name = "layer " + std::to_string(bad_layer);
            if (pass != 1 || layer_reached != bad_layer)
                fail("the error surfaced at " + where + ", not while leaving layer " + std::to_string(bad_layer));
            if (!contains(what, layer_name + ",") || !contains(caught->operation, layer_name + ","))
                fail("the error does not name \"" + layer_name + "\"");
            if (!contains(caught->operation, "releasing"))
                fail("the error does not name the operation (releasing the layer after its compute)");
        } else if (!contains(what, "layer ")) {
            std::cout << "note: the error surfaced outside any layer's steps (" << where << ")\n";
        }
    }
    std::cout << "the destructor returned after " << seconds_to_destroy << " s\n";
    if (!contains(destructor_output, "while destroying a layer_offloader"))
        fail("the destructor did not report the error on stderr");
    if (!contains(destructor_output, expected_error)) fail("the destructor's report does not name the error");
    if (status == exit_pass) std::cout << "PASSED\n";
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    bool wait_in_layer = true;
    for (int k = 1; k < argc; ++k) {
        if (std::strcmp(argv[k], "--no-wait") == 0) {
            wait_in_layer = false;
        } else {
            std::cerr << "usage: " << argv[0] << " [--no-wait]\n";
            return exit_fail;
        }
    }
    if (!offload::backend::cuda::available()) {
        std::cout << "SKIPPED: no GPU\n";
        return exit_skip;
    }
    watchdog const guard(watchdog_seconds);
    try {
        return run(wait_in_layer);
    } catch (std::exception const& e) {
        std::cout << "FAILED: " << e.what() << '\n';
        return exit_fail;
    }
}
