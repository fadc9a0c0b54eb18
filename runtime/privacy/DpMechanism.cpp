// The DP-FedAvg mechanism (fedrt/DpMechanism.h).
#include "fedrt/DpMechanism.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace fedrt {

namespace {

using Kind = Aggregation::Kind;

// Keystream bytes per XChaCha20 call: 64 KiB, 4096 normal pairs.
constexpr int64_t kBlockBytes = 65536;

// TFF's default noise of the clipped count: 0.05 x clients per round when
// there is noise at all (none in a run without noise).
double clippedCountStddev(const DpParameters &p, int64_t clientsPerRound) {
  if (p.clippedCountStddev >= 0)
    return p.clippedCountStddev;
  return p.noiseMultiplier > 0 ? 0.05 * static_cast<double>(clientsPerRound)
                               : 0.0;
}

// The sum's share of the noise under adaptive clipping (Andrew et al.
// 2021, §3.1; TFF's gaussian_adaptive): z_Δ = (z^−2 − (2σ_b)^−2)^−1/2, so
// the count and the sum together cost what noise z on the sum alone does.
double sumNoiseMultiplier(const DpParameters &p, int64_t clientsPerRound) {
  if (!p.adaptive || p.noiseMultiplier == 0)
    return p.noiseMultiplier;
  double countStddev = clippedCountStddev(p, clientsPerRound);
  return std::pow(
      std::pow(p.noiseMultiplier, -2) - std::pow(2 * countStddev, -2), -0.5);
}

std::string number(double x) {
  if (std::isinf(x))
    return "\"inf\""; // as toJson writes non-finite numbers
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", x);
  return text;
}

} // namespace

absl::StatusOr<std::unique_ptr<DpMechanism>>
DpMechanism::create(const DpConfig &config) {
  if (sodium_init() < 0)
    return absl::InternalError("libsodium could not start");
  std::unique_ptr<DpMechanism> m(new DpMechanism());
  m->delta_ = config.delta;
  if (config.seed) {
    // The key is a BLAKE2b hash of the seed: reproducible, and public.
    unsigned char message[20] = "fedc dp-seed";
    std::memcpy(message + 12, &*config.seed, 8);
    if (crypto_generichash(m->key_.data(), m->key_.size(), message,
                           sizeof message, nullptr, 0) != 0)
      return absl::InternalError("libsodium could not hash --dp-seed");
  } else {
    randombytes_buf(m->key_.data(), m->key_.size());
  }
  m->rdp_.assign(privacy::defaultOrders().size(), 0.0);
  return m;
}

std::vector<const Aggregation *> DpMechanism::releases(const Computation &c) {
  std::vector<const Aggregation *> out;
  for (const Stage &s : c.stages)
    for (const Aggregation &a : s.aggregations)
      if (a.kind == Kind::DpMean)
        out.push_back(&a);
  return out;
}

absl::Status DpMechanism::checkNoiseSplit(const Aggregation &agg,
                                          int64_t clientsPerRound) {
  const DpParameters &p = agg.dp;
  if (!p.adaptive || p.noiseMultiplier == 0)
    return absl::OkStatus();
  double countStddev = clippedCountStddev(p, clientsPerRound);
  if (p.noiseMultiplier < 2 * countStddev)
    return absl::OkStatus();
  char text[320];
  std::snprintf(text, sizeof text,
                "federated_dp_mean: noise_multiplier %g must be below twice "
                "the clipped count's stddev %g (0.05 x %lld clients per "
                "round unless clipped_count_stddev is given): adaptive "
                "clipping spends its noise on the count and leaves none for "
                "the sum; raise --clients-per-round or clipped_count_stddev",
                p.noiseMultiplier, countStddev,
                static_cast<long long>(clientsPerRound));
  return absl::InvalidArgumentError(text);
}

void DpMechanism::beginRound(int64_t round) {
  round_ = round;
  releasesThisRound_ = 0;
  roundReleases_.clear();
}

void DpMechanism::setCohort(int64_t denominator, int64_t sampled,
                            int64_t population) {
  clientsPerRound_ = denominator;
  q_ = population > 0 ? std::min(1.0, static_cast<double>(sampled) /
                                          static_cast<double>(population))
                      : 1.0;
}

double DpMechanism::clip(const Aggregation &agg) const {
  auto it = clips_.find(&agg);
  return it == clips_.end() ? agg.dp.clip : it->second;
}

// n standard normal samples of stream `stream`: Box–Muller over pairs of
// 53-bit uniforms in (0, 1] from the XChaCha20 keystream whose nonce is
// (stream, block).
void DpMechanism::gaussian(uint64_t stream, uint64_t block, double *out,
                           int64_t n) const {
  std::vector<uint64_t> bits(kBlockBytes / 8);
  for (int64_t done = 0; done < n; ++block) {
    unsigned char nonce[crypto_stream_xchacha20_NONCEBYTES] = {};
    std::memcpy(nonce, &stream, 8);
    std::memcpy(nonce + 8, &block, 8);
    crypto_stream_xchacha20(reinterpret_cast<unsigned char *>(bits.data()),
                            kBlockBytes, nonce, key_.data());
    for (size_t k = 0; k + 1 < bits.size() && done < n; k += 2) {
      double u1 = (static_cast<double>(bits[k] >> 11) + 1.0) * 0x1.0p-53;
      double u2 = (static_cast<double>(bits[k + 1] >> 11) + 1.0) * 0x1.0p-53;
      double r = std::sqrt(-2.0 * std::log(u1));
      out[done++] = r * std::cos(2.0 * M_PI * u2);
      if (done < n)
        out[done++] = r * std::sin(2.0 * M_PI * u2);
    }
  }
}

absl::StatusOr<HostValue> DpMechanism::release(const Aggregation &agg,
                                               PartialAggregate &partial) {
  const DpParameters &p = agg.dp;
  auto k = static_cast<double>(clientsPerRound_);
  double clipNow = clip(agg);
  double sumStddev = sumNoiseMultiplier(p, clientsPerRound_) * clipNow;
  // Stream ids: the round, the release, the leaf (the count is leaf ~0).
  uint64_t release = static_cast<uint64_t>(releasesThisRound_++);
  auto stream = [&](uint64_t leaf) {
    return (static_cast<uint64_t>(round_) << 32) ^ (release << 24) ^ leaf;
  };
  std::vector<double> noise;
  auto perturb = [&](size_t leaf, double *sums, int64_t n) {
    if (sumStddev == 0)
      return;
    noise.resize(static_cast<size_t>(std::min<int64_t>(n, 1 << 20)));
    for (int64_t first = 0; first < n;
         first += static_cast<int64_t>(noise.size())) {
      int64_t count =
          std::min<int64_t>(n - first, static_cast<int64_t>(noise.size()));
      // Blocks of one chunk follow the previous chunk's.
      gaussian(stream(leaf), static_cast<uint64_t>(first / 8192), noise.data(),
               count);
      for (int64_t i = 0; i < count; ++i)
        sums[first + i] += sumStddev * noise[static_cast<size_t>(i)];
    }
  };
  absl::StatusOr<HostValue> out = partial.reportNoised(perturb, k);
  if (!out.ok())
    return out;
  Released r;
  r.z = p.noiseMultiplier;
  r.q = q_;
  r.clip = clipNow;
  double reported = static_cast<double>(partial.clients());
  double unclipped = partial.unclippedClients();
  r.clippedFraction = reported > 0 ? 1 - unclipped / reported : 0;
  if (p.adaptive) {
    // TFF's quantile estimator: each client adds (below − 0.5) (so the
    // sensitivity is 0.5), noise σ_b, divided by K, 0.5 added back,
    // clamped to [0, 1]; then the geometric update.
    double countNoise = 0;
    double countStddev = clippedCountStddev(p, clientsPerRound_);
    if (countStddev > 0)
      gaussian(stream(0xffffff), 0, &countNoise, 1);
    double below =
        (unclipped - 0.5 * reported + countStddev * countNoise) / k + 0.5;
    below = std::clamp(below, 0.0, 1.0);
    r.clippedFraction = 1 - below;
    clips_[&agg] =
        clipNow * std::exp(-p.clipLearningRate * (below - p.targetQuantile));
  }
  roundReleases_.push_back(r);
  return out;
}

const std::vector<double> &DpMechanism::stepRdp(double q, double z) {
  auto [it, added] = stepRdp_.try_emplace({q, z});
  if (added) {
    absl::StatusOr<std::vector<double>> rdp =
        privacy::composedRdp(q, z, 1, privacy::defaultOrders());
    // q is a fraction and z >= 0 (checked when the plan was read): an
    // error is unreachable; an infinite RDP then makes ε infinite.
    it->second =
        rdp.ok() ? *std::move(rdp)
                 : std::vector<double>(rdp_.size(),
                                       std::numeric_limits<double>::infinity());
  }
  return it->second;
}

void DpMechanism::endRound() {
  Planned ran;
  for (const Released &r : roundReleases_)
    ran.emplace_back(r.q, r.z);
  compose(ran);
}

void DpMechanism::compose(const Planned &releases) {
  for (const auto &[q, z] : releases) {
    const std::vector<double> &rdp = stepRdp(q, z);
    for (size_t i = 0; i < rdp_.size(); ++i)
      rdp_[i] += rdp[i];
  }
}

absl::StatusOr<privacy::Epsilon> DpMechanism::epsilon() const {
  return privacy::epsilonFromRdp(privacy::defaultOrders(), rdp_, delta_);
}

absl::StatusOr<privacy::Epsilon>
DpMechanism::epsilonWith(const Planned &releases) {
  std::vector<double> spent = rdp_;
  compose(releases);
  absl::StatusOr<privacy::Epsilon> eps = epsilon();
  rdp_ = std::move(spent);
  return eps;
}

absl::Status
DpMechanism::saveClips(const std::string &dir, int64_t round,
                       const std::vector<const Aggregation *> &releases) const {
  std::error_code error; // the checkpoint's directory, made here first
  std::filesystem::create_directories(dir, error);
  std::string path = dir + "/dp.state", kept;
  // Keep the previous round's line: the checkpoint may still be at it.
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (std::strtoll(line.c_str(), nullptr, 10) == round - 1)
      kept = line + "\n";
  std::string text = kept + std::to_string(round);
  for (const Aggregation *a : releases) {
    char hex[40];
    std::snprintf(hex, sizeof hex, " %a", clip(*a)); // exact
    text += hex;
  }
  std::string temp = path + ".tmp";
  std::ofstream out(temp, std::ios::trunc);
  out << text << "\n";
  out.close();
  if (!out || std::rename(temp.c_str(), path.c_str()) != 0)
    return absl::InternalError(path + ": cannot write the adaptive clips");
  return absl::OkStatus();
}

absl::Status
DpMechanism::loadClips(const std::string &dir, int64_t round,
                       const std::vector<const Aggregation *> &releases) {
  std::string path = dir + "/dp.state";
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    int64_t r = -1;
    if (!(fields >> r) || r != round)
      continue;
    std::vector<double> clips;
    for (std::string word; fields >> word;)
      clips.push_back(std::strtod(word.c_str(), nullptr));
    if (clips.size() != releases.size())
      break;
    for (size_t i = 0; i < clips.size(); ++i) {
      if (!(clips[i] > 0) || !std::isfinite(clips[i]))
        return absl::InvalidArgumentError(path + ": a clip that is not a norm");
      clips_[releases[i]] = clips[i];
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(path + " has no adaptive clips after round " +
                             std::to_string(round));
}

std::vector<std::pair<std::string, std::string>> DpMechanism::metrics() const {
  std::vector<std::pair<std::string, std::string>> out;
  absl::StatusOr<privacy::Epsilon> eps = epsilon();
  out.emplace_back("dp_epsilon",
                   number(eps.ok() ? eps->epsilon
                                   : std::numeric_limits<double>::infinity()));
  for (size_t i = 0; i < roundReleases_.size(); ++i) {
    std::string suffix = i == 0 ? "" : "_" + std::to_string(i + 1);
    out.emplace_back("dp_clip" + suffix, number(roundReleases_[i].clip));
    out.emplace_back("clipped_fraction" + suffix,
                     number(roundReleases_[i].clippedFraction));
  }
  return out;
}

} // namespace fedrt
