// The device decode of every transfer codec writes the same bits as the CPU
// reference decode, on shapes that exercise each kernel's edges (pieces that
// run across rows and int4 groups, the last partial piece, one element, rows
// of zeros, an empty buffer, an 8B-model FFN matrix), inside a CUDA graph too;
// and how fast it decodes, printed (not asserted): GB/s of bf16 written,
// timed with CUDA events. Skips without a GPU.
//
// Device buffers are exactly as long as the encoded bytes and the output, so
// that compute-sanitizer --tool memcheck sees any access past them.
#include <offload/codec/cuda/decode.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <offload/codec/fp8_e4m3.hpp>
#include <offload/codec/int4.hpp>
#include <offload/codec/int8.hpp>
#include <offload/codec/lossless.hpp>
#include <offload/codec/none.hpp>

#include "../common/codec_data.hpp"
#include "support.hpp"

namespace {

using namespace offload::cuda_testing;
using namespace offload::codec_testing;
namespace codec = offload::codec;
using offload::tensor_info;

// A buffer encoded on the host and copied to device memory of its exact size.
template <class Codec>
struct device_encoded {
    device_encoded(tensor_info const& t, bf16_vector const& v) {
        host.resize(Codec::max_encoded_bytes(t));
        host.resize(Codec::encode(t, v.data(), host.data()));
        device = std::make_unique<device_buffer>(std::max<std::size_t>(host.size(), 1));
        OFFLOAD_TEST_CUDA(cudaMemcpy(device->data(), host.data(), host.size(), cudaMemcpyHostToDevice));
    }
    std::byte const* data() const { return static_cast<std::byte const*>(device->data()); }
    std::vector<std::byte> host;
    std::unique_ptr<device_buffer> device;
};

bf16_vector download(void const* d, std::size_t elements) {
    bf16_vector v(elements);
    if (elements > 0) OFFLOAD_TEST_CUDA(cudaMemcpy(v.data(), d, 2 * elements, cudaMemcpyDeviceToHost));
    return v;
}

// Decodes on the CPU and on the device; the two must be the same bits. The
// device output starts as 0xFFFF (a NaN no codec writes here) so that an
// element the kernel skips shows.
template <class Codec>
void expect_device_equals_cpu(cudaStream_t stream, tensor_info const& t, bf16_vector const& v, bool in_graph = false) {
    SCOPED_TRACE(std::string(Codec::name) + ", " + t.name + " (" + std::to_string(t.rows) + " x " + std::to_string(t.cols) + ")");
    device_encoded<Codec> e(t, v);
    bf16_vector cpu(t.elements());
    Codec::decode(t, e.host.data(), e.host.size(), cpu.data());

    device_buffer out(std::max<std::size_t>(t.bytes(), 1));
    OFFLOAD_TEST_CUDA(cudaMemset(out.data(), 0xFF, std::max<std::size_t>(t.bytes(), 1)));
    if (in_graph) {
        cudaGraph_t graph = nullptr;
        cudaGraphExec_t exec = nullptr;
        OFFLOAD_TEST_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
        codec::cuda::decode(Codec::format, t, e.data(), e.host.size(), out.data(), stream);
        OFFLOAD_TEST_CUDA(cudaStreamEndCapture(stream, &graph));
        OFFLOAD_TEST_CUDA(cudaGraphInstantiate(&exec, graph, 0));
        OFFLOAD_TEST_CUDA(cudaGraphLaunch(exec, stream));
        OFFLOAD_TEST_CUDA(cudaStreamSynchronize(stream));
        OFFLOAD_TEST_CUDA(cudaGraphExecDestroy(exec));
        OFFLOAD_TEST_CUDA(cudaGraphDestroy(graph));
    } else {
        codec::cuda::decode(Codec::format, t, e.data(), e.host.size(), out.data(), stream);
        OFFLOAD_TEST_CUDA(cudaStreamSynchronize(stream));
    }
    bf16_vector const gpu = download(out.data(), t.elements());
    auto const m = std::mismatch(cpu.begin(), cpu.end(), gpu.begin());
    if (m.first != cpu.end()) {
        auto const i = static_cast<std::size_t>(m.first - cpu.begin());
        FAIL() << "element " << i << " (row " << i / t.cols << ", col " << i % t.cols << "): CPU " << std::hex
               << *m.first << ", device " << *m.second;
    }
}

struct shape {
    std::size_t rows, cols;
};
// Pieces are 16 (int8, fp8, lossless) or 32 (int4) elements; int4 groups are
// 128; lossless blocks 512.
constexpr shape shapes[] = {{1, 1}, {1, 3}, {3, 1}, {1, 17}, {7, 300}, {5, 129}, {2, 127}, {13, 385},
                            {33, 31}, {1, 513}, {64, 1024}, {3, 4096}};

template <class Codec>
class CodecDevice : public cuda_test {};
using all_codecs = ::testing::Types<codec::none, codec::int8, codec::fp8_e4m3, codec::int4, codec::lossless_bf16>;
TYPED_TEST_SUITE(CodecDevice, all_codecs);

TYPED_TEST(CodecDevice, EqualsTheCpuDecodeBitForBit) {
    for (auto [rows, cols] : shapes) {
        std::string const name = std::to_string(rows) + "x" + std::to_string(cols);
        expect_device_equals_cpu<TypeParam>(this->stream_, bf16_tensor("gaussian " + name, rows, cols),
                                            gaussian(rows * cols, rows * 131 + cols));
        expect_device_equals_cpu<TypeParam>(this->stream_, bf16_tensor("heavy tailed " + name, rows, cols),
                                            heavy_tailed(rows * cols, rows * 137 + cols));
    }
}

TYPED_TEST(CodecDevice, RowsOfZerosAndAnEmptyBuffer) {
    bf16_vector v = gaussian(5 * 1000);
    std::fill(v.begin() + 1000, v.begin() + 2000, 0x0000);
    std::fill(v.begin() + 3000, v.begin() + 4000, 0x8000);
    expect_device_equals_cpu<TypeParam>(this->stream_, bf16_tensor("zero rows", 5, 1000), v);
    expect_device_equals_cpu<TypeParam>(this->stream_, bf16_tensor("empty", 0, 64), {});
}

TYPED_TEST(CodecDevice, InsideACudaGraph) {
    expect_device_equals_cpu<TypeParam>(this->stream_, bf16_tensor("captured", 13, 385), gaussian(13 * 385), true);
}

TYPED_TEST(CodecDevice, LargeLayerMatrix) {
    // The shape of an 8B model's down projection (4096 x 14336).
    auto const t = bf16_tensor("down_proj", 4096, 14336);
    expect_device_equals_cpu<TypeParam>(this->stream_, t, gaussian(t.elements(), 99));
}

class CodecDeviceLossless : public cuda_test {};

TEST_F(CodecDeviceLossless, EveryBitPattern) {
    bf16_vector all(65536);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i);
    expect_device_equals_cpu<codec::lossless_bf16>(stream_, bf16_tensor("all patterns", 256, 256), all);
    expect_device_equals_cpu<codec::lossless_bf16>(stream_, bf16_tensor("random bits", 301, 517), random_bits(301 * 517));
    expect_device_equals_cpu<codec::lossless_bf16>(stream_, bf16_tensor("specials", 77, 13), special_values(77 * 13));
    // Which the CPU decode already checks is the original: so is the device's.
    auto const v = random_bits(301 * 517);
    device_encoded<codec::lossless_bf16> e(bf16_tensor("random bits", 301, 517), v);
    device_buffer out(v.size() * 2);
    codec::cuda::decode(codec::format::lossless_bf16, bf16_tensor("random bits", 301, 517), e.data(), e.host.size(),
                        out.data(), stream_);
    OFFLOAD_TEST_CUDA(cudaStreamSynchronize(stream_));
    EXPECT_TRUE(download(out.data(), v.size()) == v);
}

class CodecDeviceChecks : public cuda_test {};

TEST_F(CodecDeviceChecks, RefusesShortInputAndMisalignedPointersBeforeLaunching) {
    auto const t = bf16_tensor("w", 4, 300);
    device_encoded<codec::int8> e(t, gaussian(1200));
    device_buffer out(t.bytes() + 16);
    EXPECT_THROW(codec::cuda::decode(codec::format::int8, t, e.data(), e.host.size() - 1, out.data(), stream_),
                 offload::codec_error);
    EXPECT_THROW(codec::cuda::decode(codec::format::int8, t, e.data(), e.host.size(),
                                     static_cast<std::byte*>(out.data()) + 2, stream_),
                 offload::codec_error);
    OFFLOAD_TEST_CUDA(cudaStreamSynchronize(stream_));
}

// Decode throughput on an 8B model's FFN matrix (4096 x 14336, 117 MB in bf16):
// 3 warm-up decodes, then 20 timed back to back between two events. Printed and
// recorded as test properties; the target (issue 10) is device-memory speed.
class CodecDeviceThroughput : public cuda_test {};

template <class Codec>
void measure(cudaStream_t stream, tensor_info const& t, bf16_vector const& v, std::ostream& report) {
    device_encoded<Codec> e(t, v);
    device_buffer out(t.bytes());
    cudaEvent_t begin = nullptr, end = nullptr;
    OFFLOAD_TEST_CUDA(cudaEventCreate(&begin));
    OFFLOAD_TEST_CUDA(cudaEventCreate(&end));
    constexpr int warm_up = 3, timed = 20;
    for (int i = 0; i < warm_up; ++i) codec::cuda::decode(Codec::format, t, e.data(), e.host.size(), out.data(), stream);
    OFFLOAD_TEST_CUDA(cudaEventRecord(begin, stream));
    for (int i = 0; i < timed; ++i) codec::cuda::decode(Codec::format, t, e.data(), e.host.size(), out.data(), stream);
    OFFLOAD_TEST_CUDA(cudaEventRecord(end, stream));
    OFFLOAD_TEST_CUDA(cudaEventSynchronize(end));
    float ms = 0;
    OFFLOAD_TEST_CUDA(cudaEventElapsedTime(&ms, begin, end));
    OFFLOAD_TEST_CUDA(cudaEventDestroy(begin));
    OFFLOAD_TEST_CUDA(cudaEventDestroy(end));
    double const per_decode_ms = ms / timed;
    double const written_gbs = static_cast<double>(t.bytes()) / (per_decode_ms * 1e6);
    double const moved_gbs = static_cast<double>(t.bytes() + e.host.size()) / (per_decode_ms * 1e6);
    report << std::setw(10) << Codec::name << std::fixed << std::setprecision(4) << std::setw(12) << per_decode_ms
           << " ms" << std::setprecision(0) << std::setw(10) << written_gbs << " GB/s written" << std::setw(10)
           << moved_gbs << " GB/s read + written\n";
    ::testing::Test::RecordProperty(std::string(Codec::name) + "_decode_GBps_written", std::to_string(written_gbs));
}

TEST_F(CodecDeviceThroughput, EightBillionModelFfnMatrix) {
    auto const t = bf16_tensor("down_proj", 4096, 14336);
    auto const v = gaussian(t.elements(), 5);
    std::ostringstream report;
    report << "decode of " << t.rows << " x " << t.cols << " bf16 (" << t.bytes() / 1e6 << " MB), mean of 20:\n";
    measure<codec::none>(stream_, t, v, report);
    measure<codec::int8>(stream_, t, v, report);
    measure<codec::fp8_e4m3>(stream_, t, v, report);
    measure<codec::int4>(stream_, t, v, report);
    measure<codec::lossless_bf16>(stream_, t, v, report);
    std::cout << report.str();
}

}  // namespace
