// Values from JSON, in the form toJson (fedrt/Value.h) prints: a struct as
// an object, a tuple or a tensor as (nested) arrays, floats as numbers (or
// the strings "nan", "inf", "-inf"), integers as integers, bools as true or
// false. Read with nlohmann::json. `fedc call` reads its arguments this way.
#pragma once

#include "fedrt/Data.h"
#include "fedrt/Value.h"

#include "absl/status/statusor.h"

#include <string_view>

namespace fedrt {

// A value of `type` (no seq inside); a `?` dimension takes the JSON's
// length. InvalidArgument says what does not fit and where ("field 'w':
// dimension 0 is 2, f32[3] expects 3", "missing field 'b' of M", "257 does
// not fit u8"); with `exactFields`, an object's field that the struct does
// not have is an error too (a state written by another program).
absl::StatusOr<HostValue> valueFromJson(const TypeDesc &type,
                                        std::string_view text,
                                        bool exactFields = false);

// A client's records from a JSON array of values of `record`, as columns
// (Data.h).
absl::StatusOr<Columns> recordsFromJson(const TypeDesc &record,
                                        std::string_view text);

} // namespace fedrt
