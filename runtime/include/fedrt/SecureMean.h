// federated_secure_mean's fixed-point encoding (docs/secure-aggregation.md,
// "Secure means"): where a client runs, its value v (times its weight) is
// clipped to [-R, R] and stochastically rounded to one of the 2^B levels
// -R, -R + Δ, ..., R with Δ = 2R / (2^B - 1); the level indices (integers
// in [0, 2^B)) are summed by SecAgg+ modulo 2^(B + ceil(log2 n) + 1), so
// the sum of n clients is exact, and the server maps the sum back. The
// weights of the weighted form travel the same way, in fixed point
// (multiples of 2^-16 below 2^32) split into B-bit limbs, so they are
// summed exactly and securely too (TFF's secure mean: MeanFactory over
// SecureSumFactory sums the weighted values and the weights).
//
// Stochastic rounding (Gupta et al., "Deep learning with limited numerical
// precision", 2015; TFF's and Flower's SecAgg+ quantization) rounds t up
// with probability frac(t): E[level] = t, so the mean is unbiased and each
// client's error is below Δ. The uniforms come from splitmix64 over a key
// of the run's seed, the round, the stage, the aggregation and the
// client's population index, and the coordinate: deterministic whatever
// the thread count or the machines, never from the client's data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fedrt::secure_mean {

// The most bits a level may have (the language's limit too): B + ceil(log2
// n) + 1 must fit SecAgg+'s 63-bit masking word, which leaves room for 2^14
// clients at 48 bits.
inline constexpr int kMaxBits = 48;
// Weights: fixed point with 16 fractional bits, below 2^32 (48 bits).
inline constexpr int kWeightFractionBits = 16;
inline constexpr int kWeightBits = 48;
inline constexpr double kWeightLimit = 4294967296.0; // 2^32

// The spacing of the levels, 2R / (2^B - 1): one client's rounding moves
// its (clipped) value by less than this.
double step(double range, int bits);

// The level of `v`: v clipped to [-range, range], mapped to t = (v + R) /
// Δ in [0, 2^B - 1], rounded up when u < frac(t) (u uniform in [0, 1)),
// else down. v must be finite.
uint64_t quantize(double v, double range, int bits, double u);

// The sum of `clients` dequantized values whose levels sum to `levels`:
// Δ / 2 x (2 levels - clients (2^B - 1)), exact in integers up to the one
// final multiplication.
double dequantizeSum(int64_t levels, int64_t clients, double range, int bits);

// The key of one aggregation of one stage of one round (`seed`: the run's).
uint64_t stageKey(uint64_t seed, int64_t round, size_t stage,
                  size_t aggregation);
// Client `client`'s (a population index) key within a stage key.
uint64_t clientKey(uint64_t stageKey, int64_t client);
// The uniform in [0, 1) that rounds coordinate `k` of that client's value
// (53 random bits).
double uniform(uint64_t clientKey, uint64_t k);

// How many B-bit limbs a weight takes (ceil(48 / B)).
size_t weightLimbs(int bits);
// Adds weight `w` in fixed point to `limbs` (weightLimbs(bits) sums, least
// significant first). False (nothing added) if w is not finite, below 0 or
// not below 2^32.
bool addWeight(double w, int bits, int64_t *limbs);
// The sum of the weights whose limbs sum to `limbs`.
double weightSum(const int64_t *limbs, size_t count, int bits);

} // namespace fedrt::secure_mean
