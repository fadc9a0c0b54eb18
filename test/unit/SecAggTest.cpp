// SecAgg+ (runtime/secagg): each primitive, then the protocol in one
// process — exact sums, dropouts at each phase, the threshold, refusals.
#include "Crypto.h"
#include "NeighbourGraph.h"
#include "Protocol.h"
#include "Shamir.h"
#include "Simulation.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

namespace fedrt::secagg {
namespace {

Secret secretFrom(uint8_t start) {
  Secret s;
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = static_cast<uint8_t>(start + 37 * i);
  return s;
}

// --- Shamir -----------------------------------------------------------------

TEST(Shamir, FieldInverse) {
  for (uint64_t a :
       {uint64_t(1), uint64_t(2), uint64_t(12345678901), kPrime - 1})
    EXPECT_EQ(fieldMul(a, fieldInverse(a)), 1u) << a;
  EXPECT_EQ(fieldMul(kPrime - 1, kPrime - 1), 1u); // (-1)^2
}

TEST(Shamir, AnyThresholdSubsetRecovers) {
  Secret s = secretFrom(7);
  s[31] = 0xff; // the top limb's high bits
  std::vector<uint64_t> xs{1, 2, 3, 4, 5, 1000000};
  auto shares = split(s, 4, xs);
  ASSERT_TRUE(shares.ok()) << shares.status();
  std::mt19937 g(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<Share> pick = *shares;
    std::shuffle(pick.begin(), pick.end(), g);
    pick.resize(4);
    auto r = recover(pick, 4);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, s);
  }
}

TEST(Shamir, BelowThresholdFailsAndRevealsNothing) {
  Secret s = secretFrom(1);
  auto shares = split(s, 3, {1, 2, 3, 4});
  ASSERT_TRUE(shares.ok());
  std::vector<Share> two(shares->begin(), shares->begin() + 2);
  auto r = recover(two, 3);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("threshold is 3"), std::string::npos);
  // Interpolating 2 shares of a degree-2 polynomial as if the threshold
  // were 2 gives something other than the secret.
  auto wrong = recover(two, 2);
  EXPECT_TRUE(!wrong.ok() || *wrong != s);
  // Two splits of one secret give unrelated shares at the same x.
  auto again = split(s, 3, {1, 2, 3, 4});
  ASSERT_TRUE(again.ok());
  EXPECT_NE((*shares)[0].y, (*again)[0].y);
}

TEST(Shamir, ThresholdOneAndAllHolders) {
  Secret s = secretFrom(9);
  auto one = split(s, 1, {5});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*recover(*one, 1), s);
  std::vector<uint64_t> xs(300);
  std::iota(xs.begin(), xs.end(), 1); // more holders than GF(2^8) allows
  auto many = split(s, 300, xs);
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(*recover(*many, 300), s);
}

TEST(Shamir, RefusesBadCoordinatesAndCorruptShares) {
  Secret s = secretFrom(2);
  EXPECT_FALSE(split(s, 2, {1, 1}).ok());
  EXPECT_FALSE(split(s, 2, {0, 1}).ok());
  EXPECT_FALSE(split(s, 3, {1, 2}).ok());
  auto shares = split(s, 2, {1, 2, 3});
  ASSERT_TRUE(shares.ok());
  std::vector<Share> dup{(*shares)[0], (*shares)[0]};
  EXPECT_FALSE(recover(dup, 2).ok());
  std::vector<Share> bad{(*shares)[0], (*shares)[1]};
  bad[1].y[0] ^= 12345;
  auto r = recover(bad, 2);
  EXPECT_TRUE(!r.ok() || *r != s);
}

// --- key agreement, encryption, masks ----------------------------------------

TEST(Crypto, KeyAgreementIsSymmetricAndContextBound) {
  KeyPair a = KeyPair::generate(), b = KeyPair::generate(),
          c = KeyPair::generate();
  auto ab = agree(a, b.publicKey, "x"), ba = agree(b, a.publicKey, "x");
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_EQ(*ab, *ba);
  EXPECT_NE(*ab, *agree(a, b.publicKey, "y"));
  EXPECT_NE(*ab, *agree(a, c.publicKey, "x"));
  EXPECT_EQ(KeyPair::fromSecret(a.secretKey).publicKey, a.publicKey);
  PublicKey zero{};
  EXPECT_FALSE(agree(a, zero, "x").ok()); // low order point
}

TEST(Crypto, SealOpensOnlyWithItsKeyAndAssociatedData) {
  Secret k = secretFrom(3), other = secretFrom(4);
  std::string sealed = seal(k, "share bytes", "ad");
  EXPECT_EQ(*open(k, sealed, "ad"), "share bytes");
  EXPECT_FALSE(open(other, sealed, "ad").ok());
  EXPECT_FALSE(open(k, sealed, "AD").ok());
  std::string flipped = sealed;
  flipped[30] ^= 1;
  EXPECT_FALSE(open(k, flipped, "ad").ok());
  EXPECT_FALSE(open(k, "short", "ad").ok());
}

TEST(Crypto, MaskExpansionIsDeterministicAndCancels) {
  Secret seed = secretFrom(5);
  std::vector<uint64_t> a(10000, 0), b(10000, 0);
  applyMask(seed, 0, +1, 64, a);
  applyMask(seed, 0, +1, 64, b);
  EXPECT_EQ(a, b);
  // The mask is the ChaCha20 keystream itself (a zero vector + mask).
  std::vector<uint8_t> stream(80000);
  uint8_t nonce[8] = {};
  crypto_stream_chacha20(stream.data(), stream.size(), nonce, seed.data());
  EXPECT_EQ(std::memcmp(stream.data(), a.data(), stream.size()), 0);
  // Another seed or stream gives another mask.
  std::vector<uint64_t> c(10000, 0), d(10000, 0);
  applyMask(secretFrom(6), 0, +1, 64, c);
  applyMask(seed, 1, +1, 64, d);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  // Adding and subtracting the same mask mod 2^b restores the values.
  for (int bits : {1, 17, 32, 63, 64}) {
    std::vector<uint64_t> v(5000);
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = (i * 2654435761u) & modulusMask(bits);
    auto orig = v;
    applyMask(seed, 0, +1, bits, v);
    for (uint64_t x : v)
      EXPECT_LE(x, modulusMask(bits));
    if (bits > 8) {
      EXPECT_NE(v, orig);
    }
    applyMask(seed, 0, -1, bits, v);
    EXPECT_EQ(v, orig) << bits;
  }
}

TEST(Crypto, PackedValuesRoundTripAndRefuseOutOfRange) {
  std::vector<uint64_t> v{0, 1, 0x1ffff, 0x3ffff};
  std::string b = packValues(v, 18);
  EXPECT_EQ(b.size(), 12u); // 3 bytes each
  std::vector<uint64_t> back;
  ASSERT_TRUE(unpackValues(b, 18, 4, back));
  EXPECT_EQ(back, v);
  EXPECT_FALSE(unpackValues(b, 18, 5, back)); // wrong length
  b[11] = '\x04';                             // 0x4ffff >= 2^18
  EXPECT_FALSE(unpackValues(b, 18, 4, back));
  std::vector<uint64_t> wide{~uint64_t(0), 42};
  ASSERT_TRUE(unpackValues(packValues(wide, 64), 64, 2, back));
  EXPECT_EQ(back, wide);
}

// --- the neighbour graph -----------------------------------------------------

TEST(NeighbourGraph, IsRegularSymmetricAndSeeded) {
  std::vector<uint32_t> ids(1000);
  std::iota(ids.begin(), ids.end(), 0);
  NeighbourGraph g(ids, 20, 7);
  EXPECT_EQ(g.degree(), 20u);
  for (uint32_t i : ids) {
    ASSERT_EQ(g.of(i).size(), 20u) << i;
    for (uint32_t j : g.of(i)) {
      EXPECT_NE(i, j);
      EXPECT_TRUE(g.adjacent(j, i)) << i << " " << j;
    }
  }
  NeighbourGraph same(ids, 20, 7), other(ids, 20, 8);
  EXPECT_EQ(g.of(3), same.of(3));
  EXPECT_NE(g.of(3), other.of(3));
  // Small n: the complete graph; an odd k rounds up.
  NeighbourGraph small({4, 9, 2}, 10, 1);
  EXPECT_EQ(small.of(9), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(NeighbourGraph(ids, 5, 1).degree(), 6u);
  EXPECT_TRUE(g.of(5000).empty());
}

TEST(NeighbourGraph, DefaultsGrowLogarithmically) {
  EXPECT_EQ(defaultNeighbours(5), 4u); // complete
  EXPECT_EQ(defaultNeighbours(1000), 20u);
  EXPECT_EQ(defaultNeighbours(1u << 20), 40u);
  EXPECT_EQ(defaultThreshold(4), 4u); // ⌈2·5/3⌉
  EXPECT_EQ(defaultThreshold(2), 2u);
  EXPECT_EQ(defaultThreshold(40), 28u);
}

// --- the protocol ------------------------------------------------------------

std::vector<std::vector<uint64_t>> inputs(uint32_t n, size_t m, int bits,
                                          uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<std::vector<uint64_t>> x(n, std::vector<uint64_t>(m));
  for (auto &v : x)
    for (auto &e : v)
      e = g() & modulusMask(bits);
  return x;
}

std::vector<uint64_t> plainSum(const std::vector<std::vector<uint64_t>> &x,
                               int bits, const std::vector<uint32_t> &who) {
  std::vector<uint64_t> s(x[0].size(), 0);
  for (uint32_t u : who)
    for (size_t i = 0; i < s.size(); ++i)
      s[i] = (s[i] + x[u][i]) & modulusMask(bits);
  return s;
}

std::vector<uint32_t> allBut(uint32_t n, const std::set<uint32_t> &out) {
  std::vector<uint32_t> v;
  for (uint32_t i = 0; i < n; ++i)
    if (!out.count(i))
      v.push_back(i);
  return v;
}

Params params(uint32_t n, size_t m, int bits, uint32_t k = 0, uint32_t t = 0) {
  Params p;
  p.neighbours = k ? k : defaultNeighbours(n);
  p.threshold = t ? t : defaultThreshold(std::min(p.neighbours, n - 1));
  p.bits = bits;
  p.length = m;
  p.session = 42;
  return p;
}

TEST(SecAgg, SumIsExactWithoutDropouts) {
  for (int bits : {20, 32, 64}) {
    auto x = inputs(5, 300, bits, bits);
    auto r = simulate(params(5, 300, bits), x);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->sum, plainSum(x, bits, allBut(5, {})));
    EXPECT_EQ(r->metrics.summed, 5);
    EXPECT_EQ(r->metrics.recoveredSeeds, 5);
  }
}

TEST(SecAgg, DropoutAfterShareKeysIsLeftOutExactly) {
  auto x = inputs(5, 200, 32, 1);
  auto r = simulate(params(5, 200, 32, 4, 3), x, [](uint32_t id) {
    return id == 2 ? Dropout::AfterShareKeys : Dropout::None;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sum, plainSum(x, 32, allBut(5, {2})));
  EXPECT_EQ(r->metrics.droppedBeforeMasking, 1);
  EXPECT_EQ(r->metrics.recoveredKeys, 1);
}

TEST(SecAgg, DropoutAfterMaskedInputIsCountedExactly) {
  auto x = inputs(5, 200, 32, 2);
  auto r = simulate(params(5, 200, 32, 4, 3), x, [](uint32_t id) {
    return id == 4 ? Dropout::AfterMaskedInput : Dropout::None;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sum, plainSum(x, 32, allBut(5, {})));
  EXPECT_EQ(r->metrics.droppedAfterMasking, 1);
}

TEST(SecAgg, MixedDropouts) {
  auto x = inputs(7, 100, 24, 3);
  auto r = simulate(params(7, 100, 24, 6, 4), x, [](uint32_t id) {
    if (id == 0)
      return Dropout::AfterAdvertise;
    if (id == 3)
      return Dropout::AfterShareKeys;
    if (id == 5)
      return Dropout::AfterMaskedInput;
    return Dropout::None;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sum, plainSum(x, 24, allBut(7, {0, 3})));
  EXPECT_EQ(r->summed, (std::vector<uint32_t>{1, 2, 4, 5, 6}));
}

TEST(SecAgg, ExactlyThresholdSurvivesAndOneFewerFails) {
  auto x = inputs(5, 50, 32, 4);
  // t = 3: two drop (one at each phase) leaves exactly 3 helpers.
  auto ok = simulate(params(5, 50, 32, 4, 3), x, [](uint32_t id) {
    return id == 0   ? Dropout::AfterShareKeys
           : id == 1 ? Dropout::AfterMaskedInput
                     : Dropout::None;
  });
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->sum, plainSum(x, 32, allBut(5, {0})));
  auto fail = simulate(params(5, 50, 32, 4, 3), x, [](uint32_t id) {
    return id == 0   ? Dropout::AfterShareKeys
           : id <= 2 ? Dropout::AfterMaskedInput
                     : Dropout::None;
  });
  ASSERT_FALSE(fail.ok());
  EXPECT_EQ(fail.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(fail.status().message().find("fewer than the threshold t = 3"),
            std::string::npos)
      << fail.status();
  // Too few before masking fails as early.
  auto early = simulate(params(5, 50, 32, 4, 4), x, [](uint32_t id) {
    return id < 2 ? Dropout::AfterShareKeys : Dropout::None;
  });
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.status().message().find(
                "3 parties sent masked inputs, fewer than the threshold t = 4"),
            std::string::npos)
      << early.status();
}

TEST(SecAgg, MoreThan1024PartiesWithNeighbourhoods) {
  const uint32_t n = 1100;
  auto x = inputs(n, 16, 40, 5);
  Params p = params(n, 16, 40, 10); // k = 10, t = 8
  auto r = simulate(
      p, x,
      [](uint32_t id) {
        return id % 97 == 1   ? Dropout::AfterShareKeys
               : id % 89 == 2 ? Dropout::AfterMaskedInput
                              : Dropout::None;
      },
      nullptr, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  std::set<uint32_t> out;
  for (uint32_t id = 0; id < n; ++id)
    if (id % 97 == 1)
      out.insert(id);
  EXPECT_EQ(r->sum, plainSum(x, 40, allBut(n, out)));
  EXPECT_EQ(r->metrics.parties, n);
  EXPECT_EQ(r->metrics.recoveredKeys, static_cast<int64_t>(out.size()));
}

TEST(SecAgg, TranscriptHoldsNoInputAndNoSingleVectorRevealsOne) {
  const uint32_t n = 5;
  const size_t m = 4096;
  auto x = inputs(n, m, 16, 6);
  std::vector<std::string> transcript;
  auto r = simulate(params(n, m, 16), x, nullptr,
                    [&](const std::string &b) { transcript.push_back(b); });
  ASSERT_TRUE(r.ok());
  // The masked inputs: 2 bytes per 16-bit value.
  auto maskedInput = [&](const std::string &bytes, v1::MaskedInput &y,
                         std::vector<uint64_t> &values) {
    return y.ParseFromString(bytes) && y.values().size() == 2 * m &&
           unpackValues(y.values(), 16, m, values);
  };
  int masked = 0;
  std::vector<uint64_t> naive(m, 0);
  for (const std::string &bytes : transcript) {
    v1::MaskedInput y;
    std::vector<uint64_t> values;
    if (!maskedInput(bytes, y, values))
      continue;
    ++masked;
    const auto &xu = x[y.party()];
    size_t equal = 0;
    for (size_t i = 0; i < m; ++i)
      equal += values[i] == xu[i];
    // A uniform mask leaves a coordinate equal with odds 2^-16.
    EXPECT_LT(equal, 5u) << "party " << y.party();
    // The masked vector is uniform: its top bit is set about half the time.
    size_t high = 0;
    for (uint64_t v : values)
      high += v >> 15;
    EXPECT_NEAR(static_cast<double>(high) / m, 0.5, 0.05);
    for (size_t i = 0; i < m; ++i)
      naive[i] = (naive[i] + values[i]) & 0xffff;
  }
  EXPECT_EQ(masked, 5);
  // Summing the masked vectors alone is not the sum: the unmasking round
  // (the survivors' mask seeds) is needed.
  EXPECT_NE(naive, r->sum);
  EXPECT_EQ(r->sum, plainSum(x, 16, allBut(n, {})));
}

// A forged coordinator asking for both secrets of one party is refused by
// honest parties, and a party revealing both is refused by the coordinator.
TEST(SecAgg, NeverBothSharesOfOneParty) {
  Params p = params(3, 4, 16, 2, 2);
  std::vector<Party> parties;
  Server server(p);
  for (uint32_t i = 0; i < 3; ++i) {
    parties.emplace_back(i, p);
    ASSERT_TRUE(server.receive(parties[i].advertiseKeys()).ok());
  }
  auto keys = server.closeAdvertise();
  ASSERT_TRUE(keys.ok());
  for (uint32_t i = 0; i < 3; ++i)
    ASSERT_TRUE(server.receive(*parties[i].shareKeys(keys->at(i))).ok());
  auto relayed = server.closeShareKeys();
  ASSERT_TRUE(relayed.ok());
  for (uint32_t i = 0; i < 3; ++i)
    ASSERT_TRUE(
        server.receive(*parties[i].maskInput(relayed->at(i), {1, 2, 3, 4}))
            .ok());
  auto requests = server.closeMaskedInput();
  ASSERT_TRUE(requests.ok());
  v1::UnmaskRequest forged = requests->at(0);
  forged.add_dropped(1); // 1 is also a survivor
  auto refused = parties[0].unmask(forged);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(
                "both the mask seed and the masking key of party 1"),
            std::string::npos)
      << refused.status();
  // A party answering with both kinds for one owner is refused whole.
  auto honest = parties[1].unmask(requests->at(1));
  ASSERT_TRUE(honest.ok());
  v1::UnmaskShares both = *honest;
  *both.add_masking_key_shares() = both.mask_seed_shares(0);
  absl::Status s = server.receive(both);
  EXPECT_NE(s.message().find("protocol violation"), std::string::npos) << s;
  // ...and cannot answer again with a clean message.
  EXPECT_FALSE(server.receive(*honest).ok());
}

TEST(SecAgg, RefusesOutOfOrderAndOutOfRange) {
  Params p = params(3, 2, 8, 2, 2);
  Party a(0, p);
  EXPECT_FALSE(a.maskInput({}, {1, 2}).ok()); // before advertising
  Party b(1, p);
  b.advertiseKeys();
  EXPECT_FALSE(b.shareKeys({}).ok()); // a neighbourhood of 1 < t = 2
  // More neighbours than k = 2: refused before any work.
  Party c(0, p);
  c.advertiseKeys();
  v1::KeysAdvertised many;
  for (uint32_t i = 1; i <= 3; ++i) {
    Party other(i, p);
    *many.add_neighbours() = other.advertiseKeys();
  }
  auto refused = c.shareKeys(many);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("more than the round's k = 2"),
            std::string::npos)
      << refused.status();
  auto x = inputs(3, 2, 8, 1);
  x[1][0] = 256;
  auto r = simulate(p, x);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("outside [0, 2^8)"), std::string::npos);
  Params bad = p;
  bad.threshold = 4;
  EXPECT_FALSE(validate(bad, 3).ok());
  bad.threshold = 1;
  EXPECT_FALSE(validate(bad, 3).ok());
}

} // namespace
} // namespace fedrt::secagg
