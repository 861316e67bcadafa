#pragma once
// Test support for the tensor-parallel runs (--gpus N of the examples): the
// device count, a fixture that skips below two GPUs, and a run under a
// deadline, so that a rank that hangs fails the test instead of stalling it.
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <thread>
#include <utility>

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

namespace offload::tp_testing {

inline int gpu_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

inline int current_device() {
    int d = -1;
    if (cudaGetDevice(&d) != cudaSuccess) ADD_FAILURE() << "cudaGetDevice failed";
    return d;
}

class two_gpu_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (gpu_count() < 2) GTEST_SKIP() << "needs two CUDA devices";
    }
};

// Runs f on a thread of its own and gives up after a deadline: a deadlock
// fails the test (and ends the process, since hung threads cannot be joined)
// rather than stalling until ctest's timeout.
template <class F>
auto with_deadline(F f, std::chrono::seconds deadline = std::chrono::seconds(120)) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto future = task.get_future();
    std::thread t(std::move(task));
    if (future.wait_for(deadline) != std::future_status::ready) {
        std::cerr << "tensor-parallel test: the run did not return within " << deadline.count() << " s: a hang\n";
        std::_Exit(1);
    }
    t.join();
    return future.get();
}

}  // namespace offload::tp_testing
