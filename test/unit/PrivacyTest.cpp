// The RDP accountant against published reference values: TF-Privacy's
// rdp_accountant_test, dp_accounting's rdp_privacy_accountant_test and the
// TF-Privacy MNIST tutorial.
#include "fedrt/Privacy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace fedrt::privacy {
namespace {

std::vector<double> integerOrders(int from, int to) {
  std::vector<double> out;
  for (int a = from; a <= to; ++a)
    out.push_back(a);
  return out;
}

// TF-Privacy rdp_accountant_test: compute_rdp(0.1, 2, 10, 5) = 0.07737.
TEST(PrivacyAccountant, SubsampledGaussianAtOrderFive) {
  auto rdp = composedRdp(0.1, 2, 10, {5});
  ASSERT_TRUE(rdp.ok());
  EXPECT_NEAR((*rdp)[0], 0.07737, 0.07737 * 1e-4);
}

// dp_accounting: q = 0.01, z = 2.5, 50 steps, fractional and integer
// orders (the erfc series and the binomial sum), rtol 1e-4; order ∞ is ∞.
TEST(PrivacyAccountant, FractionalAndIntegerOrders) {
  std::vector<double> orders = {
      1.5, 2.5, 5, 50, 100, std::numeric_limits<double>::infinity()};
  auto rdp = composedRdp(0.01, 2.5, 50, orders);
  ASSERT_TRUE(rdp.ok());
  const double expected[] = {6.70579741e-4, 1.08548710e-3, 2.18075656e-3,
                             2.38460375e-2, 1.67416308e2};
  for (size_t i = 0; i < 5; ++i)
    EXPECT_NEAR((*rdp)[i], expected[i], expected[i] * 1e-4)
        << "order " << orders[i];
  EXPECT_TRUE(std::isinf((*rdp)[5]));
}

// Without subsampling the Gaussian mechanism's RDP is α/(2z²).
TEST(PrivacyAccountant, NoSubsampling) {
  EXPECT_NEAR(subsampledGaussianRdp(1, 10, 20), 0.1, 1e-12);
  EXPECT_TRUE(std::isinf(subsampledGaussianRdp(0.5, 0, 2)));
  EXPECT_EQ(subsampledGaussianRdp(0, 1, 2), 0);
}

// dp_accounting: q = 1, z = 4.530877117 over the default orders is exactly
// (ε = 1, δ = 1e-6).
TEST(PrivacyAccountant, GaussianGivesEpsilonOne) {
  const std::vector<double> &orders = defaultOrders();
  auto rdp = composedRdp(1, 4.530877117, 1, orders);
  ASSERT_TRUE(rdp.ok());
  auto eps = epsilonFromRdp(orders, *rdp, 1e-6);
  ASSERT_TRUE(eps.ok());
  EXPECT_NEAR(eps->epsilon, 1.0, 1e-4);
}

// dp_accounting: a constant RDP of 1.1 over orders 2..32 with δ = 1e-5
// gives ε = 1.32783806176 (at order 32).
TEST(PrivacyAccountant, BalleConversionOfConstantRdp) {
  std::vector<double> orders = integerOrders(2, 32);
  std::vector<double> rdp(orders.size(), 1.1);
  auto eps = epsilonFromRdp(orders, rdp, 1e-5);
  ASSERT_TRUE(eps.ok());
  EXPECT_NEAR(eps->epsilon, 1.32783806176, 1e-9);
  EXPECT_EQ(eps->order, 32);
}

// TF-Privacy rdp_accountant_test (the original conversion): q = 0.01,
// z = 4, 10^4 steps over orders 2..32, δ = 1e-5 gives 1.258575 at order 20.
TEST(PrivacyAccountant, MironovConversion) {
  std::vector<double> orders = integerOrders(2, 32);
  auto rdp = composedRdp(0.01, 4, 10000, orders);
  ASSERT_TRUE(rdp.ok());
  auto eps = epsilonFromRdpMironov(orders, *rdp, 1e-5);
  ASSERT_TRUE(eps.ok());
  EXPECT_NEAR(eps->epsilon, 1.258575, 1e-5);
  EXPECT_EQ(eps->order, 20);
  // The newer conversion is tighter on the same RDP.
  auto tighter = epsilonFromRdp(orders, *rdp, 1e-5);
  ASSERT_TRUE(tighter.ok());
  EXPECT_LT(tighter->epsilon, eps->epsilon);
}

// The TF-Privacy MNIST tutorial: batches of 256 of 60000 examples, z = 1.12,
// 60 epochs (14062 steps), δ = 1e-5: ε = 2.92 under the original
// conversion; z = 1.2, 10 epochs (2343 steps): 1.20.
TEST(PrivacyAccountant, MnistTutorial) {
  const std::vector<double> &orders = defaultOrders();
  double q = 256.0 / 60000;
  auto rdp = composedRdp(q, 1.12, 14062, orders);
  ASSERT_TRUE(rdp.ok());
  auto eps = epsilonFromRdpMironov(orders, *rdp, 1e-5);
  ASSERT_TRUE(eps.ok());
  EXPECT_NEAR(eps->epsilon, 2.92, 0.005);
  // The newer conversion over the same RDP.
  auto balle = epsilonFromRdp(orders, *rdp, 1e-5);
  ASSERT_TRUE(balle.ok());
  EXPECT_NEAR(balle->epsilon, 2.5186, 1e-3);
  auto short_run = composedRdp(q, 1.2, 2343, orders);
  ASSERT_TRUE(short_run.ok());
  auto eps10 = epsilonFromRdpMironov(orders, *short_run, 1e-5);
  ASSERT_TRUE(eps10.ok());
  EXPECT_NEAR(eps10->epsilon, 1.20, 0.005);
}

// DP-FedAvg's ε composes per release and per round: q = 0.01, z = 1.1,
// 10^4 rounds, δ = 1e-5 gives 5.632 at fractional order 4.7.
TEST(PrivacyAccountant, DpFedAvgEpsilon) {
  auto eps = dpFedAvgEpsilon(1000, 10, {1.1}, 10000, 1e-5);
  ASSERT_TRUE(eps.ok());
  EXPECT_NEAR(eps->epsilon, 5.632, 1e-3);
  EXPECT_NEAR(eps->order, 4.7, 1e-9);
  // Two releases a round spend what twice the rounds spend.
  auto twice = dpFedAvgEpsilon(1000, 10, {1.1, 1.1}, 5000, 1e-5);
  ASSERT_TRUE(twice.ok());
  EXPECT_NEAR(twice->epsilon, eps->epsilon, 1e-9);
  auto full = dpFedAvgEpsilon(100, 100, {1.0}, 1, 1e-5);
  ASSERT_TRUE(full.ok());
  EXPECT_NEAR(full->epsilon, 4.7285, 1e-3);
}

TEST(PrivacyAccountant, RefusesInvalidInputs) {
  EXPECT_FALSE(composedRdp(1.5, 1, 1, {2}).ok());
  EXPECT_FALSE(composedRdp(0.5, -1, 1, {2}).ok());
  EXPECT_FALSE(composedRdp(0.5, 1, 1, {1}).ok());
  EXPECT_FALSE(epsilonFromRdp({2}, {1}, 0).ok());
  EXPECT_FALSE(epsilonFromRdp({2}, {1}, 1).ok());
  EXPECT_FALSE(epsilonFromRdp({2, 3}, {1}, 1e-5).ok());
  EXPECT_FALSE(dpFedAvgEpsilon(10, 11, {1}, 1, 1e-5).ok());
  EXPECT_FALSE(dpFedAvgEpsilon(10, 0, {1}, 1, 1e-5).ok());
}

} // namespace
} // namespace fedrt::privacy
