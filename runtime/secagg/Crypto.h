// The cryptographic primitives of SecAgg (Bonawitz et al. 2017, §3-4), all
// from libsodium: X25519 key agreement, XChaCha20-Poly1305 encryption of
// key shares, and ChaCha20 expansion of a 256-bit seed into a mask.
#pragma once

#include "Shamir.h"

#include "absl/status/statusor.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fedrt::secagg {

using PublicKey = std::array<uint8_t, 32>;

// An X25519 key pair (crypto_kx_keypair). Its secret part is wiped when
// the pair is destroyed.
struct KeyPair {
  PublicKey publicKey{};
  Secret secretKey{};
  static KeyPair generate();
  // The pair whose secret is `secretKey` (crypto_scalarmult_base): how the
  // coordinator checks a rebuilt masking key against its advertised
  // public key.
  static KeyPair fromSecret(const Secret &secretKey);
  ~KeyPair();
};

// The 256-bit key two parties agree on: BLAKE2b (crypto_generichash) of
// the X25519 point ‖ both public keys in ascending order ‖ `context`
// (which separates keys of different rounds and purposes). Symmetric:
// agree(a.sk, b.pk, ...) == agree(b.sk, a.pk, ...). InvalidArgument for a
// low-order peer key (the shared point is zero).
absl::StatusOr<Secret> agree(const KeyPair &own, const PublicKey &peer,
                             std::string_view context);

// XChaCha20-Poly1305 (IETF) with a random 24-byte nonce prepended to the
// ciphertext; `associated` is authenticated, not sent.
std::string seal(const Secret &key, std::string_view plaintext,
                 std::string_view associated);
// InvalidArgument if the ciphertext was altered, or key or associated
// data differ.
absl::StatusOr<std::string> open(const Secret &key, std::string_view sealed,
                                 std::string_view associated);

// Adds (sign +1) or subtracts (-1) the mask expanded from `seed` to
// `values`, elementwise mod 2^bits (1 <= bits <= 64): the mask is the
// ChaCha20 keystream (crypto_stream_chacha20, nonce = `stream`) read as
// little-endian u64 words, so the same seed and stream give the same mask
// on every machine.
void applyMask(const Secret &seed, uint64_t stream, int sign, int bits,
               std::vector<uint64_t> &values);

// `values` (each < 2^bits) in ⌈bits/8⌉ little-endian bytes each: a
// masked input's wire form.
std::string packValues(const std::vector<uint64_t> &values, int bits);
// The `length` values of packValues' bytes; false if the size differs or
// a value is not below 2^bits.
bool unpackValues(std::string_view bytes, int bits, size_t length,
                  std::vector<uint64_t> &out);

// 2^bits - 1 (all ones for 64).
inline uint64_t modulusMask(int bits) {
  return bits >= 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
}

} // namespace fedrt::secagg
