// Value types as the plan describes them (fedrt.proto.Type, plan.proto):
// the one in-memory form both fedc and libfedrt use for what crosses
// between them. A scalar is a rank-0 tensor; a struct or tuple is its
// fields in declaration order; a seq is a client's records. Element types
// come from one table (fedrt/Elements.def).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace fedrt {

namespace proto {
class Type;
}

enum class Element {
#define ELEMENT(Name, spelling, bytes, ctype, kind) Name,
#include "fedrt/Elements.def"
};

enum class ElementKind { Float, Signed, Unsigned, Bool };

const char *elementName(Element e); // "f32"
size_t elementSize(Element e);      // bytes per element
ElementKind elementKind(Element e);
inline bool isFloat(Element e) { return elementKind(e) == ElementKind::Float; }
// The element spelled `spelling` ("i32"), if any.
std::optional<Element> elementNamed(std::string_view spelling);

// Calls f(T{}) with T the C type of element `e` (uint8_t for bool), so one
// generic body serves every element of the table.
template <class F> decltype(auto) visitElement(Element e, F &&f) {
  switch (e) {
#define ELEMENT(Name, spelling, bytes, ctype, kind)                            \
  case Element::Name:                                                          \
    return f(ctype{});
#include "fedrt/Elements.def"
  }
  __builtin_unreachable();
}

// Stores integer `v` as element `e` at `out`; false if it does not fit (or
// `e` is not an integer type).
bool storeInteger(int64_t v, Element e, unsigned char *out);
// The element at `p` as an int64 (integers and bool) or a double (floats).
int64_t loadInteger(Element e, const unsigned char *p);
double loadReal(Element e, const unsigned char *p);

struct TypeDesc {
  enum class Kind { Tensor, Struct, Tuple, Seq } kind = Kind::Tensor;
  Element element = Element::F32;  // Tensor
  std::vector<int64_t> dims;       // Tensor; -1 for `?`
  std::string name;                // Struct
  std::vector<std::string> fields; // Struct
  std::vector<TypeDesc> children;  // Struct, Tuple: members; Seq: record

  static TypeDesc tensor(Element e, std::vector<int64_t> dims = {});

  bool isScalar() const { return kind == Kind::Tensor && dims.empty(); }
  int64_t elements() const; // Tensor: product of dims (-1 if one is `?`)
  bool hasDynamicDim() const;
  // The 8-byte slots a value takes in an entry point's argument or result
  // array (abi.h): 1 per scalar, 1 + rank per tensor, 1 + one column per
  // tensor leaf of the record for a seq.
  size_t slots() const;
  // Bytes of a value's elements (tensor leaves' sizes summed; 0 for seq).
  int64_t bytes() const;
  // The layout spelling: `Model{w:f32[64,10],b:f32[10]}`, `(f32,i32[8])`,
  // `seq<Example{x:f32[64],y:i32}>`, `f32[?,3]`.
  std::string str() const;
  // The tensor leaves in declaration order.
  void tensorLeaves(std::vector<const TypeDesc *> &out) const;

  bool operator==(const TypeDesc &o) const;
  bool operator!=(const TypeDesc &o) const { return !(*this == o); }

  void toProto(proto::Type &out) const;
  // Refuses a malformed message (unknown element, unset kind, nesting
  // deeper than 64, a negative dimension other than -1).
  static absl::StatusOr<TypeDesc> fromProto(const proto::Type &in);
};

// Parses a layout spelling (TypeDesc::str's form); an InvalidArgument
// error names the offset of a malformed one.
absl::StatusOr<TypeDesc> parseType(std::string_view text);

} // namespace fedrt
