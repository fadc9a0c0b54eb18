// Client datasets: a client's file read into the column layout generated
// code reads (abi.h: one column per record leaf). Records bind to files by
// the rules of docs/runtime.md, "Data".
#pragma once

#include "fedrt/Memory.h"
#include "fedrt/Types.h"
#include "fedrt/Value.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fedrt {

// One leaf of a record type, in declaration order: `x` of `x: f32[64]` has
// size 64 and binds to columns x0..x63; `y: i32` has size 1 and binds to y.
struct Leaf {
  std::string name;
  Element element;
  int64_t size = 1;
  bool tensor = false;       // a tensor field (even of size 1) binds to name0..
  std::vector<int64_t> dims; // the field's shape ({} for a scalar)
};

struct RecordLayout {
  std::vector<Leaf> leaves;
  int64_t width() const; // number of scalar values per record
};

// The record layout client data binds to for a seq's record or a
// single-record client value; nested fields are named `outer_inner`.
RecordLayout recordLayout(const TypeDesc &record);

// A client's data as columns: columns[j] holds records × leaves[j].size
// elements of leaves[j].element, little-endian.
struct Columns {
  int64_t records = 0;
  std::vector<ByteColumn> columns;
};

// Reads a CSV file (plain or gzip; RFC 4180 quoting; LF, CRLF or CR line
// ends; a UTF-8 byte-order mark skipped) with or without a header line. A
// header binds columns by name (a name twice is an error); columns no field
// binds are listed in `unboundColumns`. A file without a header binds
// positionally and has exactly width() values per line. InvalidArgument
// errors read "file:line[:column]: message" (column: the 1-based field).
absl::Status loadCsv(const std::string &path, const RecordLayout &layout,
                     Columns &out,
                     std::vector<std::string> *unboundColumns = nullptr);

// Reads a JSON Lines file (plain or gzip): one object per line binding by
// field name (other keys ignored), or one array of the flattened record's
// values. Errors read "file:line: message" (with the field), or
// "file:line:byte: invalid JSON: ..." for a line that does not parse.
absl::Status loadJsonLines(const std::string &path, const RecordLayout &layout,
                           Columns &out);

// One field of the record bound to a binary array file: `x=images.idx.gz`.
struct FieldBinding {
  std::string field; // a leaf name (nested fields: outer_inner)
  std::string path;
};

// The bindings of `--data x=images.idx.gz,y=labels.npy`, or none when
// `spec` is not such a list (a path). InvalidArgument for a list with an
// empty field or path, or a field named twice.
absl::StatusOr<std::vector<FieldBinding>>
parseFieldBindings(const std::string &spec);

// Reads each leaf of the record from its own array file: IDX (the MNIST
// family, big-endian; types u8 i8 i16 i32 f32 f64) or NumPy .npy (version
// 1-3, C order, little-endian or byte-sized; b1 u1 i1 i4 i8 f4 f8), plain
// or gzip, or an array of an .npz archive (a binding's path ARCHIVE:ARRAY,
// or ARCHIVE alone for the array named like the field). The first dimension
// counts the records, equal in every file; the rest is the leaf's shape, or for
// a tensor leaf its element count (row-major: f32[784] from 28x28 images).
// Elements convert only where every value is exact (u8 into u8, i32, i64, f32
// or f64; f64 into f32 never). Every leaf must be bound and every binding name
// a leaf. InvalidArgument/NotFound/DataLoss errors name the file and the field.
absl::Status loadArrays(const std::vector<FieldBinding> &bindings,
                        const RecordLayout &layout, Columns &out);

// One client's records from an .npz archive (numpy.savez or
// savez_compressed): each leaf from the array of its name, as loadArrays
// reads them. Arrays that no leaf names go to `unbound` as NAME.npy
// (ignored: an archive often holds a test split too). Errors as loadArrays',
// and NotFound naming the archive's arrays when a leaf has none.
absl::Status loadNpz(const std::string &path, const RecordLayout &layout,
                     Columns &out, std::vector<std::string> *unbound);

// A value of `type` (a struct: a process's state) from an .npz archive
// (--init-state): each tensor leaf from the array named by its field path
// ("w"; nested "x.w"; a tuple's elements "0", "1"), of exactly the leaf's
// shape (a scalar: a 0-d array); elements exact as loadArrays converts
// them, and f64 into f32 when every value is a float32. Every leaf must
// have its array and every array name a leaf. InvalidArgument naming the
// archive and the array; NotFound when the file cannot be opened.
absl::StatusOr<HostValue> valueFromNpz(const TypeDesc &type,
                                       const std::string &path);
// Whether `path` starts like a zip file (an .npz archive), by content.
bool looksLikeNpz(const std::string &path);

} // namespace fedrt
