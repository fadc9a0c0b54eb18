// Literal values: integer ranges and the wrapping of integer casts, shared
// by folding (Literals.cpp) and casts (LocalExprs.cpp). Internal to sema.
#pragma once

#include "sema/Types.h"

#include <cstdint>
#include <string>
#include <utility>

namespace fedc::sema {

// The range of integer element `k` as int64 (u8: 0..255).
std::pair<int64_t, int64_t> integerRange(ScalarKind k);
bool fitsInteger(int64_t v, ScalarKind k);
// Two's-complement truncation to k's width (what an integer cast does).
int64_t wrapInteger(int64_t v, ScalarKind k);
// Decimal digits of a 128-bit integer.
std::string int128Spelling(__int128 v);

} // namespace fedc::sema
