// A party's side of SecAgg+ (Protocol.h).
#include "Protocol.h"

#include <sodium.h>

#include <cstring>
#include <string>

namespace fedrt::secagg {

namespace {

std::string str(uint32_t v) { return std::to_string(v); }

// One share's field elements, as they are encrypted.
constexpr size_t kShareBytes = sizeof(uint64_t) * kLimbs;

PublicKey toKey(const std::string &bytes) {
  PublicKey k{};
  std::memcpy(k.data(), bytes.data(), std::min(bytes.size(), k.size()));
  return k;
}

} // namespace

// The key-derivation contexts and AEAD associated data bind every key and
// ciphertext to its session and purpose (and a ciphertext to its sender
// and recipient), so nothing is replayed across rounds or parties.
std::string context(const char *purpose, uint64_t session) {
  std::string c = std::string("fedc-secagg-v1/") + purpose + "/";
  c.append(reinterpret_cast<const char *>(&session), sizeof session);
  return c;
}

std::string shareAssociatedData(uint64_t session, uint32_t from, uint32_t to) {
  std::string a = context("share", session);
  a.append(reinterpret_cast<const char *>(&from), sizeof from);
  a.append(reinterpret_cast<const char *>(&to), sizeof to);
  return a;
}

absl::Status validate(const Params &params, uint32_t parties) {
  if (params.bits < 1 || params.bits > 64)
    return absl::InvalidArgumentError("secure aggregation modulus 2^" +
                                      std::to_string(params.bits) +
                                      " is not in 2^1..2^64");
  if (params.threshold < 2)
    return absl::InvalidArgumentError(
        "secure aggregation threshold " + str(params.threshold) +
        " is below 2 (one share would reveal a secret)");
  uint32_t k = std::min(params.neighbours + (params.neighbours & 1),
                        parties == 0 ? 0 : parties - 1);
  if (params.threshold > k + 1)
    return absl::InvalidArgumentError(
        "secure aggregation threshold " + str(params.threshold) +
        " exceeds the neighbourhood of " + str(k + 1) + " parties (" + str(k) +
        " neighbours each among " + str(parties) + " parties)");
  return absl::OkStatus();
}

Party::Party(uint32_t id, Params params) : id_(id), params_(params) {}

absl::Status Party::expect(Phase phase) {
  if (phase_ == phase)
    return absl::OkStatus();
  phase_ = Phase::Done;
  return absl::FailedPreconditionError("secure aggregation party " + str(id_) +
                                       ": a message out of order");
}

v1::AdvertiseKeys Party::advertiseKeys() {
  encryption_ = KeyPair::generate();
  masking_ = KeyPair::generate();
  phase_ = Phase::ShareKeys;
  v1::AdvertiseKeys m;
  m.set_party(id_);
  m.set_encryption_key(encryption_.publicKey.data(), 32);
  m.set_masking_key(masking_.publicKey.data(), 32);
  return m;
}

absl::StatusOr<v1::ShareKeys> Party::shareKeys(const v1::KeysAdvertised &keys) {
  if (absl::Status s = expect(Phase::ShareKeys); !s.ok())
    return s;
  phase_ = Phase::Done; // until this round completes
  // k neighbours at most (k rounded up to even): a coordinator cannot make
  // a party share with, and pay for, more parties than the round's k.
  if (static_cast<uint64_t>(keys.neighbours_size()) >
      uint64_t(params_.neighbours) + (params_.neighbours & 1))
    return absl::FailedPreconditionError(
        "secure aggregation party " + str(id_) + ": " +
        std::to_string(keys.neighbours_size()) +
        " neighbours, more than the round's k = " + str(params_.neighbours));
  std::vector<uint64_t> xs{uint64_t(id_) + 1};
  for (const v1::AdvertiseKeys &k : keys.neighbours()) {
    if (k.party() == id_ || k.encryption_key().size() != 32 ||
        k.masking_key().size() != 32 ||
        !neighbours_.emplace(k.party(), k).second)
      return absl::FailedPreconditionError(
          "secure aggregation party " + str(id_) +
          ": malformed or repeated keys of party " + str(k.party()));
    xs.push_back(uint64_t(k.party()) + 1);
  }
  if (xs.size() < params_.threshold)
    return absl::FailedPreconditionError(
        "secure aggregation party " + str(id_) + ": its neighbourhood has " +
        str(static_cast<uint32_t>(xs.size())) +
        " parties, fewer than the threshold " + str(params_.threshold));
  randombytes_buf(maskSeed_.data(), maskSeed_.size());
  auto seedShares = split(maskSeed_, static_cast<int>(params_.threshold), xs);
  auto keyShares =
      split(masking_.secretKey, static_cast<int>(params_.threshold), xs);
  if (!seedShares.ok())
    return seedShares.status();
  if (!keyShares.ok())
    return keyShares.status();
  held_[id_] = {(*seedShares)[0], (*keyShares)[0]};
  v1::ShareKeys out;
  out.set_party(id_);
  size_t i = 1;
  for (const auto &[peer, k] : neighbours_) {
    auto key = agree(encryption_, toKey(k.encryption_key()),
                     context("encrypt", params_.session));
    if (!key.ok())
      return key.status();
    channels_[peer] = *key; // to open the peer's shares next round
    std::string plain(2 * kShareBytes, '\0');
    std::memcpy(plain.data(), (*seedShares)[i].y.data(), kShareBytes);
    std::memcpy(plain.data() + kShareBytes, (*keyShares)[i].y.data(),
                kShareBytes);
    v1::EncryptedShare *e = out.add_shares();
    e->set_from(id_);
    e->set_to(peer);
    e->set_ciphertext(
        seal(*key, plain, shareAssociatedData(params_.session, id_, peer)));
    sodium_memzero(plain.data(), plain.size());
    ++i;
  }
  phase_ = Phase::MaskInput;
  return out;
}

absl::StatusOr<v1::MaskedInput>
Party::maskInput(const v1::SharesRelayed &shares, std::vector<uint64_t> input) {
  if (absl::Status s = expect(Phase::MaskInput); !s.ok())
    return s;
  phase_ = Phase::Done;
  if (input.size() != params_.length)
    return absl::InvalidArgumentError("secure aggregation party " + str(id_) +
                                      ": " + std::to_string(input.size()) +
                                      " values, the round sums " +
                                      std::to_string(params_.length));
  const uint64_t mask = modulusMask(params_.bits);
  for (uint64_t x : input)
    if ((x & mask) != x)
      return absl::InvalidArgumentError("secure aggregation party " + str(id_) +
                                        ": value " + std::to_string(x) +
                                        " is outside [0, 2^" +
                                        std::to_string(params_.bits) + ")");
  for (const v1::EncryptedShare &e : shares.shares()) {
    auto it = neighbours_.find(e.from());
    if (e.to() != id_ || it == neighbours_.end() || held_.count(e.from()))
      return absl::FailedPreconditionError(
          "secure aggregation party " + str(id_) +
          ": a relayed share from party " + str(e.from()) +
          " that is not its neighbour, or repeated");
    auto plain = open(channels_.at(e.from()), e.ciphertext(),
                      shareAssociatedData(params_.session, e.from(), id_));
    if (!plain.ok())
      return plain.status();
    if (plain->size() != 2 * kShareBytes)
      return absl::FailedPreconditionError("a share of the wrong size");
    Share seed{uint64_t(id_) + 1, {}}, key2{uint64_t(id_) + 1, {}};
    std::memcpy(seed.y.data(), plain->data(), kShareBytes);
    std::memcpy(key2.y.data(), plain->data() + kShareBytes, kShareBytes);
    held_[e.from()] = {seed, key2};
  }
  if (held_.size() < params_.threshold)
    return absl::FailedPreconditionError(
        "secure aggregation party " + str(id_) + ": " +
        str(static_cast<uint32_t>(held_.size())) +
        " parties of its neighbourhood shared keys, fewer than the "
        "threshold " +
        str(params_.threshold));
  // y = x + PRG(b_u) + sum over neighbours v that shared keys of
  // ±PRG(s_uv): + when u < v, - when u > v, so each pair cancels.
  applyMask(maskSeed_, 0, +1, params_.bits, input);
  for (const auto &[peer, unused] : held_) {
    if (peer == id_)
      continue;
    auto seed = agree(masking_, toKey(neighbours_.at(peer).masking_key()),
                      context("mask", params_.session));
    if (!seed.ok())
      return seed.status();
    applyMask(*seed, 0, id_ < peer ? +1 : -1, params_.bits, input);
  }
  v1::MaskedInput out;
  out.set_party(id_);
  out.set_values(packValues(input, params_.bits));
  phase_ = Phase::Unmask;
  return out;
}

absl::StatusOr<v1::UnmaskShares>
Party::unmask(const v1::UnmaskRequest &request) {
  if (absl::Status s = expect(Phase::Unmask); !s.ok())
    return s;
  phase_ = Phase::Done;
  auto violation = [&](const std::string &what) {
    return absl::FailedPreconditionError(
        "secure aggregation party " + str(id_) +
        " refuses to unmask (protocol violation): " + what);
  };
  std::set<uint32_t> survivors(request.survivors().begin(),
                               request.survivors().end());
  if (!survivors.count(id_))
    return violation("it is not named a survivor");
  for (uint32_t v : request.dropped()) {
    if (survivors.count(v))
      return violation("asked for both the mask seed and the masking key "
                       "of party " +
                       str(v));
    if (v == id_)
      return violation("asked for its own masking key");
  }
  v1::UnmaskShares out;
  out.set_party(id_);
  auto reveal = [&](uint32_t owner, const Share &s, v1::RevealedShare *r) {
    r->set_owner(owner);
    r->set_x(s.x);
    r->mutable_y()->Assign(s.y.begin(), s.y.end());
  };
  for (uint32_t v : survivors) {
    auto it = held_.find(v);
    if (it == held_.end())
      return violation("asked about party " + str(v) +
                       " it holds no shares of");
    reveal(v, it->second.first, out.add_mask_seed_shares());
  }
  if (survivors.size() < params_.threshold)
    return violation(str(static_cast<uint32_t>(survivors.size())) +
                     " survivors in its neighbourhood, fewer than the "
                     "threshold " +
                     str(params_.threshold));
  std::set<uint32_t> dropped;
  for (uint32_t v : request.dropped()) {
    auto it = held_.find(v);
    if (it == held_.end() || !dropped.insert(v).second)
      return violation("asked about party " + str(v) +
                       " it holds no shares of, or twice");
    reveal(v, it->second.second, out.add_masking_key_shares());
  }
  held_.clear();
  for (auto &[peer, key] : channels_)
    sodium_memzero(key.data(), key.size());
  return out;
}

} // namespace fedrt::secagg
