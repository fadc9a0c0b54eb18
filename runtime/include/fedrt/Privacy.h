// The privacy accountant of federated_dp_mean (docs/privacy.md): Rényi
// differential privacy (RDP, Mironov 2017) of the sampled Gaussian
// mechanism (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of
// the Sampled Gaussian Mechanism"), composed over rounds by adding RDP,
// and converted to (ε, δ)-DP. The formulas are those of Google's
// dp_accounting (rdp_privacy_accountant.py) and Opacus, so ε here agrees
// with what TFF and TF-Privacy users compute.
#pragma once

#include "absl/status/statusor.h"

#include <cstdint>
#include <vector>

namespace fedrt::privacy {

// The RDP orders α the accountant evaluates (dp_accounting's defaults):
// 1.1, 1.2, ..., 10.9, then 11, 12, ..., 63, then 128, 256, 512, 1024.
const std::vector<double> &defaultOrders();

// RDP at order `order` (> 1) of one step of the Poisson-subsampled
// Gaussian mechanism: each record sampled with probability q in [0, 1],
// Gaussian noise of standard deviation z times the L2 sensitivity.
// Integer orders sum the binomial expansion (Mironov et al. 2019, §3.2);
// fractional ones the erfc series (§3.3), each term taken with its
// magnitude as dp_accounting does (an upper bound). q = 0 gives 0; q = 1
// gives α/(2z²); z = 0 (no noise) gives infinity.
double subsampledGaussianRdp(double q, double z, double order);

// RDP of `steps` compositions at each of `orders` (RDP adds under
// composition). InvalidArgument for q outside [0, 1], z < 0, steps < 0
// or an order <= 1.
absl::StatusOr<std::vector<double>>
composedRdp(double q, double z, int64_t steps,
            const std::vector<double> &orders);

// An (ε, δ) guarantee and the RDP order it came from.
struct Epsilon {
  double epsilon = 0;
  double order = 0;
};

// The tightest ε over the orders for the given δ in (0, 1), with the
// conversion of Balle, Barthe, Gaboardi, Hsu, Sato 2020 (Thm. 21; also
// Canonne, Kamath, Steinke 2020, Prop. 12), which dp_accounting and
// Opacus use: ε = min_α ρ(α) + log1p(−1/α) − log(δα)/(α − 1). ε is 0
// when the KL bound already gives δ (δ² + expm1(−ρ) > 0), infinity when
// no order gives a finite bound. InvalidArgument for mismatched lengths,
// δ outside (0, 1), an order < 1 or a negative RDP.
absl::StatusOr<Epsilon> epsilonFromRdp(const std::vector<double> &orders,
                                       const std::vector<double> &rdp,
                                       double delta);

// The same with Mironov's original conversion (2017, Prop. 3; TF-Privacy's
// first rdp_accountant): ε = min_α ρ(α) − log δ/(α − 1). Larger than
// epsilonFromRdp's; kept to compare with numbers published with it.
absl::StatusOr<Epsilon> epsilonFromRdpMironov(const std::vector<double> &orders,
                                              const std::vector<double> &rdp,
                                              double delta);

// ε after `rounds` rounds of DP-FedAvg sampling `clientsPerRound` of
// `population` clients (q = K/N), under the default orders and the Balle
// et al. conversion. A round releases one noised aggregate per entry of
// `noiseMultipliers` (its z); their RDPs add. InvalidArgument as
// composedRdp and epsilonFromRdp, or for K outside [1, N].
absl::StatusOr<Epsilon>
dpFedAvgEpsilon(int64_t population, int64_t clientsPerRound,
                const std::vector<double> &noiseMultipliers, int64_t rounds,
                double delta);

} // namespace fedrt::privacy
