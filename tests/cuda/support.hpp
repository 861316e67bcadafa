#pragma once
// Support for the CUDA tests: a fixture that skips without a GPU, page-aligned
// host memory (so that register_caller can page-lock each buffer on its own),
// FFN stack weights, and the all-resident reference pass the offloaded passes
// are compared with, bit for bit.
//
// Nothing here touches the CUDA API before a test's SetUp runs:
// gtest_discover_tests lists the tests by running the binary, on machines
// without a GPU too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <offload/backend/cuda.hpp>
#include <offload/model.hpp>

#include "ffn_cuda.hpp"

#define OFFLOAD_TEST_CUDA(call)                                                                            \
    do {                                                                                                   \
        cudaError_t const offload_test_status_ = (call);                                                   \
        if (offload_test_status_ != cudaSuccess) {                                                         \
            cudaGetLastError();                                                                            \
            throw std::runtime_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + #call + \
                                     ": " + cudaGetErrorName(offload_test_status_) + " (" +                 \
                                     cudaGetErrorString(offload_test_status_) + ")");                      \
        }                                                                                                  \
    } while (false)

namespace offload::cuda_testing {

// Skips every test of a suite when no GPU is usable; otherwise gives each test
// a fresh non-blocking stream for its compute.
class cuda_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (!offload::backend::cuda::available()) GTEST_SKIP() << "no usable CUDA device";
        OFFLOAD_TEST_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    }
    void TearDown() override {
        if (stream_ != nullptr) cudaStreamDestroy(stream_);
        stream_ = nullptr;
    }
    offload::backend::cuda_options options() const {
        offload::backend::cuda_options o;
        o.compute_stream = stream_;
        return o;
    }
    cudaStream_t stream_ = nullptr;
};

// Host memory that starts on a page boundary and owns whole pages, so that no
// two buffers share a page (cudaHostRegister refuses a page registered twice).
class page_buffer {
public:
    explicit page_buffer(std::size_t bytes) : bytes_(bytes) {
        std::size_t const page = page_size();
        std::size_t const rounded = (std::max<std::size_t>(bytes, 1) + page - 1) / page * page;
        data_ = std::aligned_alloc(page, rounded);
        if (data_ == nullptr) throw std::bad_alloc();
        std::memset(data_, 0, rounded);
    }
    page_buffer(page_buffer&& o) noexcept : data_(o.data_), bytes_(o.bytes_) { o.data_ = nullptr; }
    page_buffer(page_buffer const&) = delete;
    page_buffer& operator=(page_buffer const&) = delete;
    page_buffer& operator=(page_buffer&&) = delete;
    ~page_buffer() { std::free(data_); }

    void* data() const noexcept { return data_; }
    std::size_t bytes() const noexcept { return bytes_; }
    template <class T>
    T* as() const noexcept {
        return static_cast<T*>(data_);
    }

    static std::size_t page_size() {
        long const p = ::sysconf(_SC_PAGESIZE);
        return p > 0 ? static_cast<std::size_t>(p) : 4096;
    }

private:
    void* data_;
    std::size_t bytes_;
};

// Device memory for the reference pass.
class device_buffer {
public:
    explicit device_buffer(std::size_t bytes) { OFFLOAD_TEST_CUDA(cudaMalloc(&data_, bytes)); }
    device_buffer(device_buffer&& o) noexcept : data_(o.data_) { o.data_ = nullptr; }
    device_buffer(device_buffer const&) = delete;
    device_buffer& operator=(device_buffer const&) = delete;
    device_buffer& operator=(device_buffer&&) = delete;
    ~device_buffer() {
        if (data_ != nullptr) cudaFree(data_);
    }
    void* data() const noexcept { return data_; }

private:
    void* data_ = nullptr;
};

// A small FFN stack: every layer's four bf16 buffers in page-aligned host memory.
struct ffn_weights {
    ffn_weights(ffn::dims d, std::size_t layers, std::uint64_t seed = 7) : dims(d) {
        auto const bytes = ffn::layer_buffer_bytes(d);
        for (std::size_t i = 0; i < layers; ++i) {
            std::vector<page_buffer> layer;
            auto const w = ffn::make_layer_weights(d, seed, i);
            for (std::size_t b = 0; b < w.size(); ++b) {
                layer.emplace_back(bytes[b]);
                std::memcpy(layer.back().data(), w[b].data(), bytes[b]);
            }
            buffers.push_back(std::move(layer));
        }
    }

    offload::model model() const {
        offload::model m;
        for (auto const& layer : buffers) {
            std::vector<offload::weight_buffer> wb;
            for (auto const& b : layer) wb.emplace_back(static_cast<void const*>(b.data()), b.bytes());
            m.add_layer(std::move(wb));
        }
        return m;
    }
    std::size_t layers() const noexcept { return buffers.size(); }

    ffn::dims dims;
    std::vector<std::vector<page_buffer>> buffers;  // [layer][buffer]
};

// The stack with every layer in its own device memory, copied by hand (no
// offloader involved): the output an offloaded pass must reproduce exactly.
inline std::vector<std::uint16_t> resident_reference(ffn_weights const& w, ffn::cuda_stack& stack,
                                                     std::uint64_t input_seed) {
    std::vector<std::vector<device_buffer>> device;
    for (auto const& layer : w.buffers) {
        std::vector<device_buffer> d;
        for (auto const& b : layer) {
            d.emplace_back(b.bytes());
            OFFLOAD_TEST_CUDA(cudaMemcpy(d.back().data(), b.data(), b.bytes(), cudaMemcpyHostToDevice));
        }
        device.push_back(std::move(d));
    }
    stack.set_input(input_seed);
    for (auto const& d : device) stack.layer(d[0].data(), d[1].data(), d[2].data(), d[3].data());
    return stack.output();  // synchronises the stack's stream before the buffers go
}

// One offloaded pass of the FFN stack through the offloader.
template <class Offloader>
std::vector<std::uint16_t> offloaded_pass(Offloader& off, ffn::cuda_stack& stack, std::uint64_t input_seed) {
    stack.set_input(input_seed);
    for (auto layer : off.pass()) {
        EXPECT_EQ(layer.stream(), stack.stream());
        stack.layer(layer.buffer(0), layer.buffer(1), layer.buffer(2), layer.buffer(3));
    }
    return stack.output();
}

// Index of the first element where two outputs differ, or -1.
inline long first_difference(std::vector<std::uint16_t> const& a, std::vector<std::uint16_t> const& b) {
    if (a.size() != b.size()) return 0;
    auto const it = std::mismatch(a.begin(), a.end(), b.begin());
    return it.first == a.end() ? -1 : static_cast<long>(it.first - a.begin());
}

inline bool all_finite_bf16(std::vector<std::uint16_t> const& v) {
    return std::none_of(v.begin(), v.end(), [](std::uint16_t x) { return (x & 0x7F80u) == 0x7F80u; });
}

}  // namespace offload::cuda_testing
