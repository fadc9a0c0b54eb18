// Shamir t-of-n secret sharing (Shamir 1979) over the prime field
// GF(2^61 - 1), for SecAgg's ShareKeys round (Bonawitz et al. 2017, §4):
// a party's 32-byte mask seed and masking key are split among its
// neighbours so that any t of them can rebuild either, and t - 1 learn
// nothing. A 32-byte secret is cut into five 56-bit limbs (each < p), each
// limb shared with its own random polynomial of degree t - 1. Share x
// coordinates are party ids + 1, so neighbourhoods of any size work
// (GF(2^8) libraries such as libgfshare stop at 255 holders).
#pragma once

#include "absl/status/statusor.h"

#include <array>
#include <cstdint>
#include <vector>

namespace fedrt::secagg {

using Secret = std::array<uint8_t, 32>;

constexpr int kLimbs = 5; // ceil(256 / 56)
constexpr uint64_t kPrime = (uint64_t(1) << 61) - 1;

// One holder's share: the polynomials' values at x (1 <= x < p).
struct Share {
  uint64_t x = 0;
  std::array<uint64_t, kLimbs> y{};
};

// Field arithmetic mod p = 2^61 - 1 (inputs < p).
uint64_t fieldAdd(uint64_t a, uint64_t b);
uint64_t fieldSub(uint64_t a, uint64_t b);
uint64_t fieldMul(uint64_t a, uint64_t b);
// a^(p-2): the inverse of a != 0.
uint64_t fieldInverse(uint64_t a);

// Shares of `secret` at each of `xs` (distinct, 1 <= x < p) such that any
// `threshold` of them rebuild it. Coefficients come from libsodium's
// randombytes. InvalidArgument if threshold is not in [1, xs.size()] or
// an x is 0, >= p or repeated.
absl::StatusOr<std::vector<Share>> split(const Secret &secret, int threshold,
                                         const std::vector<uint64_t> &xs);

// The secret behind `shares` by Lagrange interpolation at 0, using the
// first `threshold` of them. FailedPrecondition if fewer than `threshold`
// are given (the message names both numbers); InvalidArgument if x
// coordinates repeat or a rebuilt limb is not a 56-bit value (shares of
// different secrets, or corrupted ones).
absl::StatusOr<Secret> recover(const std::vector<Share> &shares, int threshold);

} // namespace fedrt::secagg
