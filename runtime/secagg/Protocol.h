// SecAgg+ (Bell et al., CCS 2020) on the four rounds of SecAgg (Bonawitz
// et al., CCS 2017) for an honest-but-curious coordinator: parties mask
// their vectors of integers mod 2^bits so that the coordinator learns only
// their sum, even when parties drop out after sharing keys (their pairwise
// masks are rebuilt from shares of their masking keys) or after sending
// their masked input (their self masks are rebuilt from shares of their
// mask seeds). Each party's neighbourhood holds t-of-(k+1) shares of its
// secrets; no party ever reveals both secrets of one peer.
//
// Party and Server are message-driven state machines: the same code runs
// in one process (simulate: every client a party, Simulation.h) and over
// the network (every worker a party, messages relayed by the coordinator).
#pragma once

#include "Crypto.h"
#include "NeighbourGraph.h"

#include "secagg.pb.h"

#include "absl/status/statusor.h"

#include <map>
#include <set>

namespace fedrt::secagg {

struct Params {
  uint32_t threshold = 0;  // t: shares that rebuild a secret (>= 2)
  uint32_t neighbours = 0; // k: each party's neighbours (even; >= n-1: all)
  int bits = 32;           // values and sums are mod 2^bits (1..64)
  size_t length = 0;       // values per party
  uint64_t session = 0;    // separates rounds: keys, AEAD data, the graph
};

// InvalidArgument unless 1 <= bits <= 64, threshold >= 2 and a
// neighbourhood (k + 1 parties, k capped at n - 1) can hold t shares.
absl::Status validate(const Params &params, uint32_t parties);

// One party's side. Each call is one round; calling out of order, or with
// messages that break the protocol, returns an error and the party takes
// no further part (an honest party aborts rather than leak).
class Party {
public:
  Party(uint32_t id, Params params);
  uint32_t id() const { return id_; }
  int bits() const { return params_.bits; }

  // Round 0: fresh key pairs for share encryption and for masking.
  v1::AdvertiseKeys advertiseKeys();
  // Round 1: draws the mask seed b_u, splits b_u and the masking key t-of-
  // (k+1) among itself and its neighbours (whose keys `keys` carries) and
  // encrypts each neighbour's shares to it. FailedPrecondition if the
  // neighbourhood is smaller than the threshold.
  absl::StatusOr<v1::ShareKeys> shareKeys(const v1::KeysAdvertised &keys);
  // Round 2: decrypts the shares relayed to it (their senders are the
  // neighbours still in the round) and masks `input` (each < 2^bits).
  absl::StatusOr<v1::MaskedInput> maskInput(const v1::SharesRelayed &shares,
                                            std::vector<uint64_t> input);
  // Round 3: reveals shares of the survivors' mask seeds and the dropped
  // parties' masking keys. FailedPrecondition (a protocol violation) if
  // the request names one party in both lists, names itself as dropped,
  // names a party it holds no shares of, or leaves fewer than t survivors
  // in its neighbourhood.
  absl::StatusOr<v1::UnmaskShares> unmask(const v1::UnmaskRequest &request);

private:
  enum class Phase { Advertise, ShareKeys, MaskInput, Unmask, Done };
  absl::Status expect(Phase phase);

  uint32_t id_;
  Params params_;
  Phase phase_ = Phase::Advertise;
  KeyPair encryption_, masking_;
  std::map<uint32_t, v1::AdvertiseKeys> neighbours_;
  std::map<uint32_t, Secret> channels_; // share encryption key per neighbour
  Secret maskSeed_{};
  // Shares held, by owner (including its own): of b_owner and s_owner.
  std::map<uint32_t, std::pair<Share, Share>> held_;
};

// Counts of one secure aggregation, for the run's metrics.
struct Metrics {
  int64_t parties = 0;                // advertised keys
  int64_t droppedBeforeMasking = 0;   // shared keys, no masked input
  int64_t droppedAfterMasking = 0;    // masked input, no unmasking answer
  int64_t recoveredSeeds = 0;         // self masks removed
  int64_t recoveredKeys = 0;          // dropped parties' masking keys rebuilt
  int64_t summed = 0;                 // inputs in the sum
  int64_t bytesUp = 0, bytesDown = 0; // protocol messages, serialized
  int64_t inputBytes = 0; // what the summed inputs would take in the clear
};

// The coordinator's side: collects each round's messages (receive*, which
// refuse a message that breaks the protocol and ignore its sender from
// then on), then closes the round (close*), which yields the messages to
// send each party still in. A round that leaves fewer than t parties, or a
// secret with fewer than t shares, fails with FailedPrecondition naming
// the threshold; nothing is unmasked then.
class Server {
public:
  explicit Server(Params params);

  absl::Status receive(const v1::AdvertiseKeys &m);
  absl::StatusOr<std::map<uint32_t, v1::KeysAdvertised>> closeAdvertise();
  absl::Status receive(const v1::ShareKeys &m);
  absl::StatusOr<std::map<uint32_t, v1::SharesRelayed>> closeShareKeys();
  absl::Status receive(const v1::MaskedInput &m);
  absl::StatusOr<std::map<uint32_t, v1::UnmaskRequest>> closeMaskedInput();
  absl::Status receive(const v1::UnmaskShares &m);
  // The sum of the masked inputs' underlying values, mod 2^bits.
  absl::StatusOr<std::vector<uint64_t>> closeUnmasking();

  const Metrics &metrics() const { return metrics_; }
  // The parties whose inputs the sum holds (after closeUnmasking).
  const std::set<uint32_t> &summed() const { return u3_; }

private:
  absl::Status survivors(const char *round, size_t count) const;
  absl::Status removeDroppedMasks(uint32_t v, std::vector<uint64_t> &sum);

  Params params_;
  int phase_ = 0;
  std::map<uint32_t, v1::AdvertiseKeys> keys_; // U1
  std::unique_ptr<NeighbourGraph> graph_;
  std::map<uint32_t, v1::ShareKeys> shares_; // U2
  std::set<uint32_t> u3_;
  std::vector<uint64_t> sum_;                    // of the masked inputs
  std::map<uint32_t, v1::UnmaskShares> reveals_; // U4
  std::set<uint32_t> refused_;
  Metrics metrics_;
};

} // namespace fedrt::secagg
