// The coordinator's side of SecAgg+ (Protocol.h).
#include "Protocol.h"

#include <string>

namespace fedrt::secagg {

std::string context(const char *purpose, uint64_t session);

namespace {

std::string str(uint64_t v) { return std::to_string(v); }

absl::Status refuse(uint32_t party, const std::string &why) {
  return absl::InvalidArgumentError("secure aggregation: party " + str(party) +
                                    " is refused: " + why);
}

absl::Status wrongRound(uint32_t party) {
  return refuse(party, "a message outside its round");
}

std::vector<Share> toShares(const std::vector<const v1::RevealedShare *> &rs) {
  std::vector<Share> out;
  for (const v1::RevealedShare *r : rs) {
    Share s;
    s.x = r->x();
    for (int l = 0; l < kLimbs; ++l)
      s.y[l] = r->y(l);
    out.push_back(s);
  }
  return out;
}

} // namespace

Server::Server(Params params) : params_(params) {}

absl::Status Server::survivors(const char *round, size_t count) const {
  if (count >= params_.threshold)
    return absl::OkStatus();
  return absl::FailedPreconditionError(
      "secure aggregation round failed: " + str(count) + " parties " + round +
      ", fewer than the threshold t = " + str(params_.threshold) +
      " (--secagg-threshold); nothing was unmasked");
}

absl::Status Server::receive(const v1::AdvertiseKeys &m) {
  metrics_.bytesUp += static_cast<int64_t>(m.ByteSizeLong());
  if (phase_ != 0 || keys_.count(m.party()))
    return wrongRound(m.party());
  if (m.encryption_key().size() != 32 || m.masking_key().size() != 32 ||
      m.encryption_key() == m.masking_key())
    return refuse(m.party(), "its public keys are malformed");
  keys_[m.party()] = m;
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint32_t, v1::KeysAdvertised>>
Server::closeAdvertise() {
  phase_ = 1;
  metrics_.parties = static_cast<int64_t>(keys_.size());
  if (absl::Status s = survivors("advertised keys", keys_.size()); !s.ok())
    return s;
  std::vector<uint32_t> ids;
  for (const auto &[id, unused] : keys_)
    ids.push_back(id);
  if (absl::Status s = validate(params_, static_cast<uint32_t>(ids.size()));
      !s.ok())
    return s;
  graph_ = std::make_unique<NeighbourGraph>(ids, params_.neighbours,
                                            params_.session);
  std::map<uint32_t, v1::KeysAdvertised> out;
  for (uint32_t id : ids) {
    v1::KeysAdvertised &k = out[id];
    for (uint32_t v : graph_->of(id))
      *k.add_neighbours() = keys_.at(v);
    metrics_.bytesDown += static_cast<int64_t>(k.ByteSizeLong());
  }
  return out;
}

absl::Status Server::receive(const v1::ShareKeys &m) {
  metrics_.bytesUp += static_cast<int64_t>(m.ByteSizeLong());
  if (phase_ != 1 || !keys_.count(m.party()) || shares_.count(m.party()))
    return wrongRound(m.party());
  // One ciphertext for each neighbour, no more, no less.
  const auto &neighbours = graph_->of(m.party());
  std::set<uint32_t> to;
  for (const v1::EncryptedShare &e : m.shares())
    if (e.from() != m.party() || !graph_->adjacent(m.party(), e.to()) ||
        !to.insert(e.to()).second)
      return refuse(m.party(), "a share addressed to a non-neighbour");
  if (to.size() != neighbours.size())
    return refuse(m.party(), "shares for " + str(to.size()) + " of its " +
                                 str(neighbours.size()) + " neighbours");
  shares_[m.party()] = m;
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint32_t, v1::SharesRelayed>> Server::closeShareKeys() {
  phase_ = 2;
  if (absl::Status s = survivors("shared keys", shares_.size()); !s.ok())
    return s;
  std::map<uint32_t, v1::SharesRelayed> out;
  for (const auto &[from, m] : shares_) {
    out[from]; // a party every neighbour of which dropped gets none
    for (const v1::EncryptedShare &e : m.shares())
      if (shares_.count(e.to()))
        *out[e.to()].add_shares() = e;
  }
  for (const auto &[id, m] : out)
    metrics_.bytesDown += static_cast<int64_t>(m.ByteSizeLong());
  sum_.assign(params_.length, 0);
  return out;
}

absl::Status Server::receive(const v1::MaskedInput &m) {
  metrics_.bytesUp += static_cast<int64_t>(m.ByteSizeLong());
  if (phase_ != 2 || !shares_.count(m.party()) || u3_.count(m.party()))
    return wrongRound(m.party());
  std::vector<uint64_t> values;
  if (!unpackValues(m.values(), params_.bits, params_.length, values))
    return refuse(m.party(), "a masked input of " + str(m.values().size()) +
                                 " bytes is not " + str(params_.length) +
                                 " values below 2^" + str(params_.bits));
  const uint64_t mask = modulusMask(params_.bits);
  for (size_t i = 0; i < params_.length; ++i)
    sum_[i] = (sum_[i] + values[i]) & mask;
  u3_.insert(m.party());
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint32_t, v1::UnmaskRequest>>
Server::closeMaskedInput() {
  phase_ = 3;
  if (absl::Status s = survivors("sent masked inputs", u3_.size()); !s.ok())
    return s;
  std::map<uint32_t, v1::UnmaskRequest> out;
  for (uint32_t u : u3_) {
    v1::UnmaskRequest &r = out[u];
    r.add_survivors(u);
    for (uint32_t v : graph_->of(u)) {
      if (u3_.count(v))
        r.add_survivors(v);
      else if (shares_.count(v))
        r.add_dropped(v);
    }
    metrics_.bytesDown += static_cast<int64_t>(r.ByteSizeLong());
  }
  metrics_.droppedBeforeMasking =
      static_cast<int64_t>(shares_.size() - u3_.size());
  return out;
}

absl::Status Server::receive(const v1::UnmaskShares &m) {
  metrics_.bytesUp += static_cast<int64_t>(m.ByteSizeLong());
  if (phase_ != 3 || !u3_.count(m.party()) || reveals_.count(m.party()) ||
      refused_.count(m.party()))
    return wrongRound(m.party());
  // Both secrets of one party would unmask its input: the coordinator
  // refuses such an answer whole and uses none of its shares.
  std::set<uint32_t> seeds;
  for (const v1::RevealedShare &r : m.mask_seed_shares()) {
    if (!u3_.count(r.owner()) || !seeds.insert(r.owner()).second)
      return refuse(m.party(), "a mask seed share of a party that did not "
                               "send a masked input");
  }
  std::set<uint32_t> keys;
  for (const v1::RevealedShare &r : m.masking_key_shares()) {
    if (seeds.count(r.owner())) {
      refused_.insert(m.party());
      return refuse(m.party(),
                    "protocol violation: shares of both the mask seed and "
                    "the masking key of party " +
                        str(r.owner()));
    }
    if (u3_.count(r.owner()) || !shares_.count(r.owner()) ||
        !keys.insert(r.owner()).second)
      return refuse(m.party(), "a masking key share of a party that did "
                               "not drop");
  }
  for (const auto *list : {&m.mask_seed_shares(), &m.masking_key_shares()})
    for (const v1::RevealedShare &r : *list)
      if (r.x() != uint64_t(m.party()) + 1 || r.y_size() != kLimbs ||
          !(r.owner() == m.party() || graph_->adjacent(m.party(), r.owner())))
        return refuse(m.party(), "a malformed share");
  reveals_[m.party()] = m;
  return absl::OkStatus();
}

absl::Status Server::removeDroppedMasks(uint32_t v,
                                        std::vector<uint64_t> &sum) {
  std::vector<const v1::RevealedShare *> got;
  for (const auto &[holder, m] : reveals_)
    for (const v1::RevealedShare &r : m.masking_key_shares())
      if (r.owner() == v)
        got.push_back(&r);
  if (got.size() < params_.threshold)
    return absl::FailedPreconditionError(
        "secure aggregation round failed: " + str(got.size()) +
        " shares of dropped party " + str(v) +
        "'s masking key came back, fewer than the threshold t = " +
        str(params_.threshold) + " (--secagg-threshold); nothing was unmasked");
  auto secret = recover(toShares(got), static_cast<int>(params_.threshold));
  if (!secret.ok())
    return secret.status();
  KeyPair key = KeyPair::fromSecret(*secret);
  if (std::string(key.publicKey.begin(), key.publicKey.end()) !=
      keys_.at(v).masking_key())
    return absl::DataLossError("secure aggregation: the masking key rebuilt "
                               "for party " +
                               str(v) + " does not match its public key");
  // Each surviving neighbour w added sign(w, v)·PRG(s_wv); take it out.
  for (uint32_t w : graph_->of(v)) {
    if (!u3_.count(w))
      continue;
    PublicKey peer{};
    std::copy(keys_.at(w).masking_key().begin(),
              keys_.at(w).masking_key().end(), peer.begin());
    auto seed = agree(key, peer, context("mask", params_.session));
    if (!seed.ok())
      return seed.status();
    applyMask(*seed, 0, w < v ? -1 : +1, params_.bits, sum);
  }
  ++metrics_.recoveredKeys;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> Server::closeUnmasking() {
  phase_ = 4;
  metrics_.droppedAfterMasking =
      static_cast<int64_t>(u3_.size() - reveals_.size());
  if (absl::Status s =
          survivors("answered the unmasking round", reveals_.size());
      !s.ok())
    return s;
  std::map<uint32_t, std::vector<const v1::RevealedShare *>> seeds;
  for (const auto &[holder, m] : reveals_)
    for (const v1::RevealedShare &r : m.mask_seed_shares())
      seeds[r.owner()].push_back(&r);
  std::vector<uint64_t> sum = sum_;
  for (uint32_t v : u3_) {
    auto &got = seeds[v];
    if (got.size() < params_.threshold)
      return absl::FailedPreconditionError(
          "secure aggregation round failed: " + str(got.size()) +
          " shares of party " + str(v) +
          "'s mask seed came back, fewer than the threshold t = " +
          str(params_.threshold) +
          " (--secagg-threshold); nothing was unmasked");
    auto seed = recover(toShares(got), static_cast<int>(params_.threshold));
    if (!seed.ok())
      return seed.status();
    applyMask(*seed, 0, -1, params_.bits, sum);
    ++metrics_.recoveredSeeds;
  }
  for (const auto &[v, unused] : shares_)
    if (!u3_.count(v))
      if (absl::Status s = removeDroppedMasks(v, sum); !s.ok())
        return s;
  metrics_.summed = static_cast<int64_t>(u3_.size());
  metrics_.inputBytes = static_cast<int64_t>(u3_.size() * params_.length *
                                             ((params_.bits + 7) / 8));
  return sum;
}

} // namespace fedrt::secagg
