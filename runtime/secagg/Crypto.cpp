// libsodium-backed primitives of SecAgg (Crypto.h).
#include "Crypto.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace fedrt::secagg {

namespace {

// libsodium must be initialized once before use; sodium_init is
// thread-safe and idempotent.
void ensureSodium() {
  static const bool ready = sodium_init() >= 0;
  (void)ready;
}

} // namespace

KeyPair KeyPair::generate() {
  ensureSodium();
  KeyPair k;
  crypto_kx_keypair(k.publicKey.data(), k.secretKey.data());
  return k;
}

KeyPair KeyPair::fromSecret(const Secret &secretKey) {
  ensureSodium();
  KeyPair k;
  k.secretKey = secretKey;
  crypto_scalarmult_base(k.publicKey.data(), k.secretKey.data());
  return k;
}

KeyPair::~KeyPair() { sodium_memzero(secretKey.data(), secretKey.size()); }

absl::StatusOr<Secret> agree(const KeyPair &own, const PublicKey &peer,
                             std::string_view context) {
  ensureSodium();
  uint8_t point[crypto_scalarmult_BYTES];
  if (crypto_scalarmult(point, own.secretKey.data(), peer.data()) != 0)
    return absl::InvalidArgumentError(
        "key agreement with a low-order public key");
  const PublicKey &low = std::min(own.publicKey, peer);
  const PublicKey &high = std::max(own.publicKey, peer);
  crypto_generichash_state state;
  Secret key;
  crypto_generichash_init(&state, nullptr, 0, key.size());
  crypto_generichash_update(&state, point, sizeof point);
  crypto_generichash_update(&state, low.data(), low.size());
  crypto_generichash_update(&state, high.data(), high.size());
  crypto_generichash_update(&state,
                            reinterpret_cast<const uint8_t *>(context.data()),
                            context.size());
  crypto_generichash_final(&state, key.data(), key.size());
  sodium_memzero(point, sizeof point);
  return key;
}

std::string seal(const Secret &key, std::string_view plaintext,
                 std::string_view associated) {
  ensureSodium();
  constexpr size_t nonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::string out(nonceBytes + plaintext.size() +
                      crypto_aead_xchacha20poly1305_ietf_ABYTES,
                  '\0');
  auto *o = reinterpret_cast<uint8_t *>(out.data());
  randombytes_buf(o, nonceBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      o + nonceBytes, &written,
      reinterpret_cast<const uint8_t *>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const uint8_t *>(associated.data()), associated.size(),
      nullptr, o, key.data());
  out.resize(nonceBytes + written);
  return out;
}

absl::StatusOr<std::string> open(const Secret &key, std::string_view sealed,
                                 std::string_view associated) {
  ensureSodium();
  constexpr size_t nonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr size_t tagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (sealed.size() < nonceBytes + tagBytes)
    return absl::InvalidArgumentError("an encrypted share is truncated");
  std::string out(sealed.size() - nonceBytes - tagBytes, '\0');
  unsigned long long written = 0;
  const auto *s = reinterpret_cast<const uint8_t *>(sealed.data());
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<uint8_t *>(out.data()), &written, nullptr,
          s + nonceBytes, sealed.size() - nonceBytes,
          reinterpret_cast<const uint8_t *>(associated.data()),
          associated.size(), s, key.data()) != 0)
    return absl::InvalidArgumentError(
        "an encrypted share fails authentication (altered, or not for this "
        "party and round)");
  out.resize(written);
  return out;
}

std::string packValues(const std::vector<uint64_t> &values, int bits) {
  const size_t width = (static_cast<size_t>(bits) + 7) / 8;
  std::string out(values.size() * width, '\0');
  for (size_t i = 0; i < values.size(); ++i)
    for (size_t b = 0; b < width; ++b)
      out[i * width + b] = static_cast<char>(values[i] >> (8 * b));
  return out;
}

bool unpackValues(std::string_view bytes, int bits, size_t length,
                  std::vector<uint64_t> &out) {
  const size_t width = (static_cast<size_t>(bits) + 7) / 8;
  if (bytes.size() != length * width)
    return false;
  out.assign(length, 0);
  for (size_t i = 0; i < length; ++i) {
    for (size_t b = 0; b < width; ++b)
      out[i] |= uint64_t(static_cast<uint8_t>(bytes[i * width + b])) << (8 * b);
    if (out[i] & ~modulusMask(bits))
      return false;
  }
  return true;
}

void applyMask(const Secret &seed, uint64_t stream, int sign, int bits,
               std::vector<uint64_t> &values) {
  ensureSodium();
  uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
  std::memcpy(nonce, &stream, sizeof nonce);
  const uint64_t mask = modulusMask(bits);
  // Expand in blocks so a 10^8-element vector needs no second copy; the
  // keystream is continued with crypto_stream_chacha20_xor_ic's counter.
  constexpr size_t kBlockWords = 4096; // 32 KiB: a multiple of 64 bytes
  std::array<uint64_t, kBlockWords> words;
  for (size_t start = 0; start < values.size(); start += kBlockWords) {
    size_t n = std::min(kBlockWords, values.size() - start);
    std::memset(words.data(), 0, n * 8);
    crypto_stream_chacha20_xor_ic(
        reinterpret_cast<uint8_t *>(words.data()),
        reinterpret_cast<const uint8_t *>(words.data()), n * 8, nonce,
        start * 8 / 64, seed.data());
    uint64_t *v = values.data() + start;
    if (sign > 0)
      for (size_t i = 0; i < n; ++i)
        v[i] = (v[i] + words[i]) & mask;
    else
      for (size_t i = 0; i < n; ++i)
        v[i] = (v[i] - words[i]) & mask;
  }
}

} // namespace fedrt::secagg
