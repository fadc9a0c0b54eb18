// Values the runtime holds between stage functions (server state, what is
// broadcast, aggregation results): one owned, 64-byte aligned buffer per
// tensor leaf, shaped by a TypeDesc. Converts to and from the 8-byte slots
// of stage functions (abi.h), prints as JSON and serializes for checkpoints.
#pragma once

#include "fedrt/Types.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace fedrt {

// An owned tensor: elements row-major, little-endian.
struct Tensor {
  Element element = Element::F32;
  std::vector<int64_t> dims;
  // Large buffers go back to a bounded cache for the next allocation of
  // that size (next round's model): fresh pages cost a fault each.
  struct Release {
    // No default member initializer: GCC would then not see Release as
    // default-constructible inside Tensor. Set whenever the pointer is.
    size_t size;
    void operator()(unsigned char *p) const;
  };
  std::unique_ptr<unsigned char, Release> data;
  int64_t count = 0; // number of elements

  // Zero-filled unless `zero` is false (the caller writes every element).
  void allocate(Element e, std::vector<int64_t> shape, bool zero = true);
  size_t bytes() const {
    return static_cast<size_t>(count) * elementSize(element);
  }
  template <class T> T *as() { return reinterpret_cast<T *>(data.get()); }
  template <class T> const T *as() const {
    return reinterpret_cast<const T *>(data.get());
  }
  double get(int64_t i) const; // element i as a double
};

struct HostValue {
  std::vector<Tensor> leaves; // tensor leaves in declaration order

  // Zero-filled with the static shape of `type` (no `?` dims).
  static HostValue zeros(const TypeDesc &type);
  // Shaped like zeros(type), contents unspecified (to be overwritten).
  static HostValue uninitialized(const TypeDesc &type);
  HostValue clone() const;
};

// Copies a value out of slots (pointers into an arena) into owned memory.
// `next` advances past the value's slots.
HostValue fromSlots(const TypeDesc &type, const uint64_t *slots, size_t &next);
// Appends the slots that describe `v` (pointing into its buffers).
void toSlots(const TypeDesc &type, const HostValue &v,
             std::vector<uint64_t> &slots);

// JSON: a struct as an object, a tuple as an array, a tensor as nested
// arrays, floats in their shortest round-trip form.
std::string toJson(const TypeDesc &type, const HostValue &v);

// Binary serialization (checkpoints): element, rank, dims, bytes per leaf.
void serialize(const HostValue &v, std::string &out);
bool deserialize(const TypeDesc &type, const std::string &in, size_t &pos,
                 HostValue &out, std::string &error);

} // namespace fedrt
