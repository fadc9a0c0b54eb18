// The server side of federated_dp_mean (docs/privacy.md): DP-FedAvg's
// Gaussian mechanism (McMahan, Ramage, Talwar, Zhang 2018) with fixed or
// adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021), and the
// running ε of the run (fedrt/Privacy.h). Clients clip where they run
// (PartialAggregate); the mechanism gives them the clip, adds the noise
// once to the merged sum, divides by the clients per round, updates an
// adaptive clip, and accounts every release.
//
// Noise: N(0, 1) pairs by Box–Muller from XChaCha20 keystreams (libsodium)
// under a 256-bit key drawn from the OS, or derived from --dp-seed
// (reproducible, and no privacy: anyone with the seed can subtract the
// noise). Each release has its own stream, keyed by (round, release), so
// results do not depend on threads or workers.
#pragma once

#include "fedrt/Aggregator.h"
#include "fedrt/Plan.h"
#include "fedrt/Privacy.h"

#include "absl/status/statusor.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fedrt {

struct DpConfig {
  double delta = 1e-5;          // of the reported (ε, δ)
  std::optional<uint64_t> seed; // --dp-seed; else the OS's randomness
};

class DpMechanism {
public:
  // Internal if libsodium cannot start (or hash the seed).
  static absl::StatusOr<std::unique_ptr<DpMechanism>>
  create(const DpConfig &config);

  // The DP aggregations a computation releases, in stage order.
  static std::vector<const Aggregation *> releases(const Computation &comp);

  // Checks an adaptive aggregation's noise split for `clientsPerRound`:
  // InvalidArgument (naming the numbers) when z >= 2 x the clipped count's
  // stddev (TFF's condition), which leaves no noise for the sum.
  static absl::Status checkNoiseSplit(const Aggregation &agg,
                                      int64_t clientsPerRound);

  // The round about to run (its releases so far are forgotten: a retried
  // attempt releases again).
  void beginRound(int64_t round);
  // The cohort of the computation about to run: `denominator` is the
  // fixed denominator K of its DP means; their releases are accounted with
  // sampling rate q = sampled / population.
  void setCohort(int64_t denominator, int64_t sampled, int64_t population);

  // The clip clients use now for `agg` (its adaptive clip, once adapted).
  double clip(const Aggregation &agg) const;

  // Releases a DP mean's merged partial: Gaussian noise of standard
  // deviation z_Δ x clip on every coordinate of the float64 sum, divided
  // by K; then an adaptive clip moves by exp(−η(b̃ − γ)). Records the
  // release for the accountant and the round's metrics.
  absl::StatusOr<HostValue> release(const Aggregation &agg,
                                    PartialAggregate &partial);

  // Ends the round: its releases compose into the run's RDP.
  void endRound();
  // A release not run here, as its sampling rate q and noise multiplier z.
  using Planned = std::vector<std::pair<double, double>>;
  // Composes releases that ran before this process (a resumed run's).
  void compose(const Planned &releases);

  // ε spent so far (∞ without noise), and what it would be after the
  // planned releases too (--dp-target-epsilon asks before a round).
  absl::StatusOr<privacy::Epsilon> epsilon() const;
  absl::StatusOr<privacy::Epsilon> epsilonWith(const Planned &releases);

  // The last round's metrics: dp_epsilon, then per release dp_clip (the
  // clip clients used) and clipped_fraction (noised under adaptive
  // clipping, exact otherwise), each as JSON; later releases get a _2,
  // _3, ... suffix.
  std::vector<std::pair<std::string, std::string>> metrics() const;

  // Adaptive clips survive a resume: DIR/dp.state holds the clips each
  // of `releases` will use after round `round` (and those after the round
  // before, so a crash between it and the checkpoint leaves the one the
  // checkpoint needs), written atomically before the checkpoint.
  absl::Status
  saveClips(const std::string &dir, int64_t round,
            const std::vector<const Aggregation *> &releases) const;
  // Reads the clips after `round`; NotFound if the file has none for it.
  absl::Status loadClips(const std::string &dir, int64_t round,
                         const std::vector<const Aggregation *> &releases);

private:
  DpMechanism() = default;
  void gaussian(uint64_t stream, uint64_t block, double *out, int64_t n) const;

  std::array<unsigned char, 32> key_{};
  int64_t round_ = 0, clientsPerRound_ = 0, releasesThisRound_ = 0;
  double q_ = 1;
  // Current adaptive clips, per aggregation of the plan.
  std::map<const Aggregation *, double> clips_;
  struct Released {
    double z = 0, q = 1;        // for the accountant
    double clip = 0;            // used by the clients
    double clippedFraction = 0; // 1 − b̃ (adaptive), or the exact one
  };
  std::vector<Released> roundReleases_;
  std::vector<double> rdp_; // the run's, per default order
  // One step's RDP per (q, z): computed once (the series over the 156
  // orders cost milliseconds), reused every round.
  const std::vector<double> &stepRdp(double q, double z);
  std::map<std::pair<double, double>, std::vector<double>> stepRdp_;
  double delta_ = 1e-5;
};

} // namespace fedrt
