// Source locations: one 32-bit offset space shared by every loaded buffer, as
// in Clang, so a location is a single integer and 0 means "no location".
#pragma once

#include <cstdint>

namespace fedc {

class SourceLoc {
public:
  SourceLoc() = default;
  static SourceLoc fromRaw(uint32_t raw) {
    SourceLoc loc;
    loc.raw_ = raw;
    return loc;
  }
  uint32_t raw() const { return raw_; }
  bool isValid() const { return raw_ != 0; }
  SourceLoc advanced(uint32_t bytes) const { return fromRaw(raw_ + bytes); }
  friend bool operator==(SourceLoc a, SourceLoc b) { return a.raw_ == b.raw_; }
  friend bool operator<(SourceLoc a, SourceLoc b) { return a.raw_ < b.raw_; }

private:
  uint32_t raw_ = 0;
};

// A half-open byte range [begin, end) of one buffer.
struct SourceRange {
  SourceLoc begin;
  SourceLoc end;
  SourceRange() = default;
  SourceRange(SourceLoc b, SourceLoc e) : begin(b), end(e) {}
  explicit SourceRange(SourceLoc b) : begin(b), end(b) {}
  bool isValid() const { return begin.isValid(); }
};

} // namespace fedc
