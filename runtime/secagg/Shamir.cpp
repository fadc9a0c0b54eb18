// Shamir secret sharing over GF(2^61 - 1) (Shamir.h).
#include "Shamir.h"

#include <sodium.h>

#include <set>
#include <string>

namespace fedrt::secagg {

namespace {

constexpr int kLimbBits = 56;
constexpr uint64_t kLimbMask = (uint64_t(1) << kLimbBits) - 1;

// A uniform field element (rejection sampling keeps it unbiased).
uint64_t randomElement() {
  for (;;) {
    uint64_t r = 0;
    randombytes_buf(&r, sizeof r);
    r &= kPrime; // 61 bits
    if (r < kPrime)
      return r;
  }
}

// The secret's 32 bytes as five little-endian 56-bit limbs (the last one
// holds the top 32 bits).
std::array<uint64_t, kLimbs> toLimbs(const Secret &s) {
  std::array<uint64_t, kLimbs> limbs{};
  for (int bit = 0; bit < 256; ++bit)
    if (s[bit / 8] >> (bit % 8) & 1)
      limbs[bit / kLimbBits] |= uint64_t(1) << (bit % kLimbBits);
  return limbs;
}

bool fromLimbs(const std::array<uint64_t, kLimbs> &limbs, Secret &s) {
  s.fill(0);
  for (int i = 0; i < kLimbs; ++i)
    if (limbs[i] > kLimbMask || (i == kLimbs - 1 && limbs[i] >> 32))
      return false;
  for (int bit = 0; bit < 256; ++bit)
    if (limbs[bit / kLimbBits] >> (bit % kLimbBits) & 1)
      s[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
  return true;
}

} // namespace

uint64_t fieldAdd(uint64_t a, uint64_t b) {
  uint64_t s = a + b; // < 2^62: no wrap
  return s >= kPrime ? s - kPrime : s;
}

uint64_t fieldSub(uint64_t a, uint64_t b) {
  return a >= b ? a - b : a + kPrime - b;
}

uint64_t fieldMul(uint64_t a, uint64_t b) {
  unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  // 2^61 = 1 (mod p): fold the high bits onto the low ones.
  uint64_t lo = static_cast<uint64_t>(p) & kPrime;
  uint64_t hi = static_cast<uint64_t>(p >> 61);
  return fieldAdd(lo, hi % kPrime);
}

uint64_t fieldInverse(uint64_t a) {
  uint64_t result = 1, base = a, e = kPrime - 2;
  for (; e; e >>= 1, base = fieldMul(base, base))
    if (e & 1)
      result = fieldMul(result, base);
  return result;
}

absl::StatusOr<std::vector<Share>> split(const Secret &secret, int threshold,
                                         const std::vector<uint64_t> &xs) {
  if (threshold < 1 || static_cast<size_t>(threshold) > xs.size())
    return absl::InvalidArgumentError(
        "Shamir threshold " + std::to_string(threshold) + " is not in [1, " +
        std::to_string(xs.size()) + "] (the number of holders)");
  std::set<uint64_t> seen;
  for (uint64_t x : xs)
    if (x == 0 || x >= kPrime || !seen.insert(x).second)
      return absl::InvalidArgumentError("Shamir share coordinate " +
                                        std::to_string(x) +
                                        " is zero, repeated or >= p");
  std::array<uint64_t, kLimbs> limbs = toLimbs(secret);
  // coefficients[limb][0] is the limb itself.
  std::vector<std::array<uint64_t, kLimbs>> coefficients(threshold);
  coefficients[0] = limbs;
  for (int d = 1; d < threshold; ++d)
    for (auto &c : coefficients[d])
      c = randomElement();
  std::vector<Share> shares(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    shares[i].x = xs[i];
    for (int l = 0; l < kLimbs; ++l) {
      uint64_t y = 0; // Horner's rule
      for (int d = threshold - 1; d >= 0; --d)
        y = fieldAdd(fieldMul(y, xs[i]), coefficients[d][l]);
      shares[i].y[l] = y;
    }
  }
  sodium_memzero(coefficients.data(),
                 coefficients.size() * sizeof coefficients[0]);
  return shares;
}

absl::StatusOr<Secret> recover(const std::vector<Share> &shares,
                               int threshold) {
  if (threshold < 1 || shares.size() < static_cast<size_t>(threshold))
    return absl::FailedPreconditionError(std::to_string(shares.size()) +
                                         " shares given, the threshold is " +
                                         std::to_string(threshold));
  std::set<uint64_t> seen;
  for (int i = 0; i < threshold; ++i)
    if (shares[i].x == 0 || shares[i].x >= kPrime ||
        !seen.insert(shares[i].x).second)
      return absl::InvalidArgumentError("Shamir share coordinate " +
                                        std::to_string(shares[i].x) +
                                        " is zero, repeated or >= p");
  std::array<uint64_t, kLimbs> limbs{};
  for (int i = 0; i < threshold; ++i) {
    // The Lagrange basis polynomial of x_i at 0: prod_j x_j / (x_j - x_i).
    uint64_t num = 1, den = 1;
    for (int j = 0; j < threshold; ++j) {
      if (j == i)
        continue;
      num = fieldMul(num, shares[j].x);
      den = fieldMul(den, fieldSub(shares[j].x, shares[i].x));
    }
    uint64_t basis = fieldMul(num, fieldInverse(den));
    for (int l = 0; l < kLimbs; ++l)
      limbs[l] = fieldAdd(limbs[l], fieldMul(shares[i].y[l] % kPrime, basis));
  }
  Secret s;
  if (!fromLimbs(limbs, s))
    return absl::InvalidArgumentError(
        "Shamir shares do not rebuild a 256-bit secret (they are corrupted "
        "or belong to different secrets)");
  return s;
}

} // namespace fedrt::secagg
