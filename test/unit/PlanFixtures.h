// What the runtime's unit tests share to build plans by hand: layouts from
// their spelling, f32 values in and out of 8-byte slots (abi.h), and a
// fedrt.proto.Plan loaded against hand-written stage functions.
#pragma once

#include "fedrt/Plan.h"
#include "fedrt/Types.h"
#include "plan.pb.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace fedrt::fixtures {

// The layout spelled `text` (`Model{w:f32[3]}`); a test failure if it does
// not parse.
inline TypeDesc typeOf(const std::string &text) {
  absl::StatusOr<TypeDesc> t = parseType(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : TypeDesc();
}

inline uint64_t f32Slot(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

inline float f32Of(uint64_t slot) {
  float f;
  auto bits = static_cast<uint32_t>(slot);
  std::memcpy(&f, &bits, 4);
  return f;
}

// `plan` serialized and loaded with `functions` as its function table; a
// test failure if loadPlan refuses it.
template <size_t N>
PlanTable loadTestPlan(const proto::Plan &plan, const StageFn (&functions)[N]) {
  std::string bytes;
  plan.SerializeToString(&bytes);
  PlanTable table;
  absl::Status s = loadPlan(bytes.data(), bytes.size(), functions, N, table);
  EXPECT_TRUE(s.ok()) << s;
  return table;
}

} // namespace fedrt::fixtures
