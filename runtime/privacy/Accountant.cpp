// The RDP accountant (fedrt/Privacy.h). Every sum runs in log space: the
// terms of the expansions overflow double long before their logarithms do.
#include "fedrt/Privacy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace fedrt::privacy {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)).
double logAdd(double a, double b) {
  double hi = std::max(a, b), lo = std::min(a, b);
  if (hi == -kInf)
    return -kInf;
  return hi + std::log1p(std::exp(lo - hi));
}

// log(erfc(x)), accurate where erfc underflows (x beyond ~26): the
// asymptotic expansion erfc(x) ~ exp(-x²)/(x√π) (1 - 1/(2x²) + 3/(4x⁴)
// - 15/(8x⁶)).
double logErfc(double x) {
  if (x < 20)
    return std::log(std::erfc(x));
  double r = 1 / (x * x);
  return -x * x - std::log(x) - 0.5 * std::log(M_PI) +
         std::log1p(-0.5 * r + 0.75 * r * r - 1.875 * r * r * r);
}

// log |C(n, k)| for real n and integer k (k may exceed a fractional n:
// lgamma gives the magnitude of the generalized coefficient).
double logBinomial(double n, double k) {
  return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1);
}

// log A_α for integer α (Mironov et al. 2019, §3.2):
// A_α = Σ_{i=0..α} C(α, i) q^i (1−q)^{α−i} exp((i² − i)/(2z²)).
double logAInteger(double q, double z, int64_t alpha) {
  double logA = -kInf;
  for (int64_t i = 0; i <= alpha; ++i) {
    auto di = static_cast<double>(i);
    double term = logBinomial(static_cast<double>(alpha), di) +
                  di * std::log(q) +
                  static_cast<double>(alpha - i) * std::log1p(-q) +
                  (di * di - di) / (2 * z * z);
    logA = logAdd(logA, term);
  }
  return logA;
}

// log A_α for fractional α (Mironov et al. 2019, §3.3): two series in
// erfc. As dp_accounting (since 2023), every term is added with its
// magnitude: the alternating signs of the generalized binomial
// coefficients are dropped, which gives an upper bound and no
// cancellation. The series stop once both terms decrease and fall e^30
// below the total; one that has not after 1000 terms gives infinity (the
// order is then never the one chosen).
double logAFractional(double q, double z, double alpha) {
  double logA0 = -kInf, logA1 = -kInf;
  double z0 = z * z * std::log(1 / q - 1) + 0.5;
  double lastS0 = -kInf, lastS1 = -kInf;
  for (int step = 0; step < 1000; ++step) {
    auto i = static_cast<double>(step);
    double logCoef = logBinomial(alpha, i);
    double j = alpha - i;
    double logT0 = logCoef + i * std::log(q) + j * std::log1p(-q);
    double logT1 = logCoef + j * std::log(q) + i * std::log1p(-q);
    double logE0 = std::log(0.5) + logErfc((i - z0) / (M_SQRT2 * z));
    double logE1 = std::log(0.5) + logErfc((z0 - j) / (M_SQRT2 * z));
    double logS0 = logT0 + (i * i - i) / (2 * z * z) + logE0;
    double logS1 = logT1 + (j * j - j) / (2 * z * z) + logE1;
    logA0 = logAdd(logA0, logS0);
    logA1 = logAdd(logA1, logS1);
    double total = logAdd(logA0, logA1);
    if (logS0 < lastS0 && logS1 < lastS1 && std::max(logS0, logS1) < total - 30)
      return total;
    lastS0 = logS0;
    lastS1 = logS1;
  }
  return kInf;
}

absl::Status checkConversionInputs(const std::vector<double> &orders,
                                   const std::vector<double> &rdp,
                                   double delta) {
  if (orders.size() != rdp.size() || orders.empty())
    return absl::InvalidArgumentError(
        "the accountant needs one RDP value per order");
  if (!(delta > 0 && delta < 1))
    return absl::InvalidArgumentError("delta must be in (0, 1), found " +
                                      std::to_string(delta));
  for (size_t i = 0; i < orders.size(); ++i)
    if (!(orders[i] >= 1) || !(rdp[i] >= 0))
      return absl::InvalidArgumentError(
          "RDP orders must be >= 1 and their values >= 0");
  return absl::OkStatus();
}

} // namespace

const std::vector<double> &defaultOrders() {
  static const std::vector<double> orders = [] {
    std::vector<double> out;
    for (int tenths = 11; tenths <= 109; ++tenths)
      out.push_back(tenths / 10.0);
    for (int a = 11; a <= 63; ++a)
      out.push_back(a);
    for (double a : {128.0, 256.0, 512.0, 1024.0})
      out.push_back(a);
    return out;
  }();
  return orders;
}

double subsampledGaussianRdp(double q, double z, double order) {
  if (q == 0)
    return 0;
  if (std::isinf(order) || z == 0)
    return kInf;
  if (q == 1)
    return order / (2 * z * z);
  double logA = order == std::floor(order)
                    ? logAInteger(q, z, static_cast<int64_t>(order))
                    : logAFractional(q, z, order);
  return logA / (order - 1);
}

absl::StatusOr<std::vector<double>>
composedRdp(double q, double z, int64_t steps,
            const std::vector<double> &orders) {
  if (!(q >= 0 && q <= 1))
    return absl::InvalidArgumentError("the sampling rate q must be in [0, 1]");
  if (!(z >= 0) || steps < 0)
    return absl::InvalidArgumentError(
        "the noise multiplier and the steps must be >= 0");
  std::vector<double> out;
  out.reserve(orders.size());
  for (double order : orders) {
    if (!(order > 1))
      return absl::InvalidArgumentError("RDP orders must be > 1");
    double one = subsampledGaussianRdp(q, z, order);
    out.push_back(steps == 0 ? 0 : one * static_cast<double>(steps));
  }
  return out;
}

namespace {

// The smallest ε over the orders of `epsilonAt(order, rdp)` (0 or more).
template <class EpsilonAt>
absl::StatusOr<Epsilon> bestOverOrders(const std::vector<double> &orders,
                                       const std::vector<double> &rdp,
                                       double delta, EpsilonAt epsilonAt) {
  if (absl::Status s = checkConversionInputs(orders, rdp, delta); !s.ok())
    return s;
  Epsilon best{kInf, orders[0]};
  for (size_t i = 0; i < orders.size(); ++i)
    if (double eps = epsilonAt(orders[i], rdp[i]); eps < best.epsilon)
      best = {eps, orders[i]};
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

} // namespace

absl::StatusOr<Epsilon> epsilonFromRdp(const std::vector<double> &orders,
                                       const std::vector<double> &rdp,
                                       double delta) {
  return bestOverOrders(orders, rdp, delta, [delta](double a, double r) {
    if (delta * delta + std::expm1(-r) > 0)
      return 0.0; // the KL bound δ <= sqrt(1 − exp(−ρ)) already holds
    if (a > 1.01) // unstable as α -> 1, and useless there anyway
      return r + std::log1p(-1 / a) - std::log(delta * a) / (a - 1);
    return kInf;
  });
}

absl::StatusOr<Epsilon> epsilonFromRdpMironov(const std::vector<double> &orders,
                                              const std::vector<double> &rdp,
                                              double delta) {
  return bestOverOrders(orders, rdp, delta, [delta](double a, double r) {
    return a <= 1 ? kInf : r - std::log(delta) / (a - 1);
  });
}

absl::StatusOr<Epsilon>
dpFedAvgEpsilon(int64_t population, int64_t clientsPerRound,
                const std::vector<double> &noiseMultipliers, int64_t rounds,
                double delta) {
  if (clientsPerRound < 1 || clientsPerRound > population)
    return absl::InvalidArgumentError(
        "the accountant needs 1 <= clients per round <= population");
  double q =
      static_cast<double>(clientsPerRound) / static_cast<double>(population);
  const std::vector<double> &orders = defaultOrders();
  std::vector<double> total(orders.size(), 0.0);
  for (double z : noiseMultipliers) {
    absl::StatusOr<std::vector<double>> rdp = composedRdp(q, z, rounds, orders);
    if (!rdp.ok())
      return rdp.status();
    for (size_t i = 0; i < total.size(); ++i)
      total[i] += (*rdp)[i];
  }
  return epsilonFromRdp(orders, total, delta);
}

} // namespace fedrt::privacy
