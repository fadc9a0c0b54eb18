// The plan table a compiled program carries (docs/abi.md, "Plan table"):
// its computations, their stages, the layouts of the values that cross
// between server and clients, and the stage functions, parsed once at
// start-up from the text and function array codegen emits.
#pragma once

#include "fedrt/Data.h"
#include "fedrt/abi.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fedrt {

// A value type as the plan spells it: `Model{w:f32[64,10],b:f32[10]}`.
struct TypeDesc {
  enum class Kind { Tensor, Struct, Tuple, Seq } kind = Kind::Tensor;
  Element element = Element::F32;  // Tensor
  std::vector<int64_t> dims;       // Tensor; -1 for `?`
  std::string name;                // Struct
  std::vector<std::string> fields; // Struct
  std::vector<TypeDesc> children;  // Struct, Tuple: members; Seq: record

  int64_t elements() const; // Tensor: product of dims
  // The 8-byte slots the value occupies in a stage function's in/out array.
  size_t slots() const;
  std::string str() const;
};

// Parses a layout; false with `error` on malformed text.
bool parseType(const std::string &text, TypeDesc &out, std::string &error);

// The record layout client data binds to (Data.h) for a seq's record or a
// single-record client value; nested fields are named `outer_inner`.
RecordLayout recordLayout(const TypeDesc &record);

using StageFn = void (*)(fedrt_context *, const uint64_t *, uint64_t *);

struct Aggregation {
  enum class Kind { Mean, WeightedMean, Sum, Min, Max, SecureSum, Custom };
  Kind kind = Kind::Sum;
  int bitwidth = 0;                                                // SecureSum
  StageFn accumulate = nullptr, merge = nullptr, report = nullptr; // Custom
  TypeDesc value, accumulator, result;

  // The slots one client's value takes in its client fn's output: the
  // value, then the weight of a weighted mean.
  size_t clientSlots() const {
    return value.slots() + (kind == Kind::WeightedMean ? 1 : 0);
  }
};

struct Stage {
  StageFn server = nullptr, client = nullptr;
  std::vector<TypeDesc> broadcasts;
  std::vector<Aggregation> aggregations;
};

struct Computation {
  std::string name;
  uint64_t fingerprint = 0;
  struct Input {
    bool clients = false;
    std::string name;
    TypeDesc type;
  };
  std::vector<Input> inputs;
  std::vector<Stage> stages;
  StageFn update = nullptr;
  std::vector<TypeDesc> results;
};

struct PlanTable {
  enum class Kind { None, Process, Main } kind = Kind::None;
  std::string processName;
  const Computation *init = nullptr, *next = nullptr, *eval = nullptr,
                    *main = nullptr;
  std::vector<std::unique_ptr<Computation>> computations;

  // Of the whole program: every computation's fingerprint combined.
  uint64_t fingerprint() const;
};

// Parses `text` against `functions` (the entries its lines index).
bool parsePlanTable(const char *text, const StageFn *functions,
                    size_t functionCount, PlanTable &out, std::string &error);

} // namespace fedrt
