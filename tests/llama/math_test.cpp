#include "llama_host.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "llama_dtype.hpp"
#include "llama_rope.hpp"

namespace {

llama::config tiny_rope(bool llama3) {
    llama::config c;
    c.head_dim = 16;
    c.rope_theta = 10000.0;
    if (llama3) c.rope_scaling = llama::llama3_rope_scaling{8.0, 1.0, 4.0, 64.0};
    return c;
}

// inv_freq[k] = 10000^(-k/8); wavelength 2 pi / inv_freq.
TEST(LlamaRope, DefaultFrequencies) {
    auto const f = llama::rope_inv_freq(tiny_rope(false));
    ASSERT_EQ(f.size(), 8u);
    for (std::size_t k = 0; k < 8; ++k) EXPECT_NEAR(f[k], std::pow(10.0, -0.5 * k), 1e-6 * std::pow(10.0, -0.5 * k)) << k;
}

// llama3, factor 8, low 1, high 4, original context 64: wavelengths under
// 64/4 = 16 kept (k = 0: 6.28), over 64/1 = 64 divided by 8 (k >= 3: 199 and up),
// between interpolated with s = (64 / wavelength - 1) / 3:
//   k = 1: wavelength 19.87, s = 0.74024, f = 0.316228 (0.25976 / 8 + 0.74024) = 0.2443846
//   k = 2: wavelength 62.83, s = 0.0061969, f = 0.1 (0.9938031 / 8 + 0.0061969) = 0.01304226
TEST(LlamaRope, Llama3ScalingKeepsInterpolatesAndDivides) {
    auto const f = llama::rope_inv_freq(tiny_rope(true));
    double const expected[8] = {1.0,     0.244384599, 0.013042256, 0.00395284708,
                                0.00125, 0.000395284708, 0.000125,  3.95284708e-05};
    ASSERT_EQ(f.size(), 8u);
    for (std::size_t k = 0; k < 8; ++k) EXPECT_NEAR(f[k], expected[k], 2e-6 * expected[k]) << k;
}

// x = [1 2 3 4]: mean square 7.5, 1/sqrt(7.5 + 1e-6) = 0.365148347; times weight [1 0.5 2 -1].
TEST(LlamaMath, RmsNormMatchesHandComputedValues) {
    float const x[4] = {1, 2, 3, 4};
    float const w[4] = {1, 0.5f, 2, -1};
    float y[4];
    llama::rms_norm<llama::fp32_reader>(x, w, 4, 1e-6, y);
    double const expected[4] = {0.365148347, 0.365148347, 2.19089008, -1.46059339};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], expected[i], 1e-6) << i;
}

// rotate_half pairs v[k] with v[k + half]: v[k]' = v[k] cos - v[k+half] sin,
// v[k+half]' = v[k+half] cos + v[k] sin. Pair 0 turns by 90 degrees, pair 1 by 0.
TEST(LlamaMath, RopeRotatesFirstHalfWithSecondHalf) {
    float v[4] = {1, 2, 3, 4};  // pairs (1, 3) and (2, 4)
    float const cos[2] = {0, 1}, sin[2] = {1, 0};
    llama::apply_rope(v, 4, cos, sin);
    EXPECT_FLOAT_EQ(v[0], -3);  // 1 * 0 - 3 * 1
    EXPECT_FLOAT_EQ(v[2], 1);   // 3 * 0 + 1 * 1
    EXPECT_FLOAT_EQ(v[1], 2);
    EXPECT_FLOAT_EQ(v[3], 4);
}

TEST(LlamaMath, LinearIsRowsOfTheWeightTimesTheInput) {
    float const x[6] = {1, 2, 3, -1, 0, 1};        // 2 tokens x 3 inputs
    float const w[6] = {1, 0, 0, 0.5f, 0.5f, 0.5f};  // 2 outputs x 3 inputs
    float y[4] = {10, 10, 10, 10};
    llama::linear<llama::fp32_reader>(x, 2, w, 2, 3, y);
    EXPECT_FLOAT_EQ(y[0], 1);
    EXPECT_FLOAT_EQ(y[1], 3);
    EXPECT_FLOAT_EQ(y[2], -1);
    EXPECT_FLOAT_EQ(y[3], 0);
    llama::linear<llama::fp32_reader>(x, 2, w, 2, 3, y, true);
    EXPECT_FLOAT_EQ(y[1], 6);
}

TEST(LlamaDtype, SixteenBitFormatsReadExactly) {
    EXPECT_EQ(llama::bf16_bits_to_float(0x3f80), 1.0f);
    EXPECT_EQ(llama::bf16_bits_to_float(0xc040), -3.0f);
    EXPECT_EQ(llama::fp16_bits_to_float(0x3c00), 1.0f);
    EXPECT_EQ(llama::fp16_bits_to_float(0xc500), -5.0f);
    EXPECT_EQ(llama::fp16_bits_to_float(0x7bff), 65504.0f);
    EXPECT_EQ(llama::fp16_bits_to_float(0x0001), 0x1p-24f);  // smallest subnormal
    EXPECT_EQ(llama::fp16_bits_to_float(0x83ff), -1023 * 0x1p-24f);
    EXPECT_TRUE(std::isinf(llama::fp16_bits_to_float(0xfc00)));
    EXPECT_TRUE(std::isnan(llama::fp16_bits_to_float(0x7e00)));
    std::uint16_t const unaligned[3] = {0, 0x3c00, 0x4000};
    EXPECT_EQ(llama::fp16_reader::at(reinterpret_cast<char const*>(unaligned) + 2, 1), 2.0f);
}

}  // namespace
