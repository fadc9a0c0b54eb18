// Binary client data: one array file per record field (docs/runtime.md,
// "Binary arrays"). IDX is the format of the MNIST family (LeCun et al.;
// Debian's dataset-fashion-mnist ships it gzipped); .npy is NumPy's
// (numpy.lib.format, versions 1.0-3.0), alone or in an .npz archive.
#include "NpzArchive.h"
#include "TextInput.h"

#include "fedrt/Data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace fedrt {

namespace {

// What a file's elements are: its own types, wider than fedc's (IDX has
// 16-bit integers).
enum class Stored { Bool, U8, I8, I16, I32, I64, F32, F64 };

const char *storedName(Stored s) {
  static const char *const kNames[] = {"bool", "u8",  "i8",  "i16",
                                       "i32",  "i64", "f32", "f64"};
  return kNames[static_cast<int>(s)];
}

size_t storedSize(Stored s) {
  static const size_t kSizes[] = {1, 1, 1, 2, 4, 8, 4, 8};
  return kSizes[static_cast<int>(s)];
}

// An array as read: the file's bytes, the data from `offset`; `name` is
// what errors call it (the file, or ARCHIVE.npz:ARRAY).
struct Array {
  std::string name;
  Stored stored = Stored::U8;
  std::vector<int64_t> shape;
  FileBytes bytes;
  size_t offset = 0;
  bool bigEndian = false;
};

std::vector<std::string_view> splitAt(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string_view::npos)
      return parts;
    start = end + 1;
  }
}

absl::Status invalid(const std::string &path, const std::string &why) {
  return absl::InvalidArgumentError(path + ": " + why);
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Element count of `shape`, or nullopt past 2^48 (no real file is that
// large; it keeps every later product below overflow).
std::optional<int64_t> checkedCount(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > (int64_t(1) << 48) / d))
      return std::nullopt;
    n *= d;
  }
  return n;
}

// IDX: bytes 0 0, a type byte, the rank, rank big-endian u32 dims, data.
absl::Status parseIdx(const std::string &path, Array &a) {
  const FileBytes &b = a.bytes;
  static const std::map<unsigned char, Stored> kTypes = {
      {0x08, Stored::U8},  {0x09, Stored::I8},  {0x0B, Stored::I16},
      {0x0C, Stored::I32}, {0x0D, Stored::F32}, {0x0E, Stored::F64}};
  auto type = kTypes.find(static_cast<unsigned char>(b[2]));
  if (type == kTypes.end())
    return invalid(path, "IDX element type " +
                             std::to_string(static_cast<unsigned char>(b[2])) +
                             " is none of 8 (u8), 9 (i8), 11 (i16), 12 (i32), "
                             "13 (f32), 14 (f64)");
  a.stored = type->second;
  size_t rank = static_cast<unsigned char>(b[3]);
  if (rank == 0 || b.size() < 4 + 4 * rank)
    return invalid(path, "the IDX header is truncated or has rank 0");
  for (size_t k = 0; k < rank; ++k) {
    const auto *p =
        reinterpret_cast<const unsigned char *>(b.data() + 4 + 4 * k);
    a.shape.push_back((int64_t(p[0]) << 24) | (int64_t(p[1]) << 16) |
                      (int64_t(p[2]) << 8) | int64_t(p[3]));
  }
  a.offset = 4 + 4 * rank;
  a.bigEndian = true;
  return absl::OkStatus();
}

// The value of `key` in the .npy header dict ("{'descr': '<f4',
// 'fortran_order': False, 'shape': (60000, 784), }"): the text up to the
// next top-level comma.
std::optional<std::string> headerValue(const std::string &h,
                                       const std::string &key) {
  size_t at = h.find("'" + key + "'");
  if (at == std::string::npos)
    return std::nullopt;
  at = h.find(':', at);
  if (at == std::string::npos)
    return std::nullopt;
  size_t end = at + 1;
  int depth = 0;
  for (; end < h.size(); ++end) {
    char c = h[end];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if ((c == ',' && depth == 0) || c == '}')
      break;
  }
  std::string v = h.substr(at + 1, end - at - 1);
  v.erase(0, v.find_first_not_of(' '));
  v.erase(v.find_last_not_of(' ') + 1);
  return v;
}

absl::Status parseNpy(const std::string &path, Array &a, bool records) {
  const FileBytes &b = a.bytes;
  if (b.size() < 10)
    return invalid(path, "the .npy header is truncated");
  int major = static_cast<unsigned char>(b[6]);
  size_t lenBytes = major == 1 ? 2 : 4;
  if (major < 1 || major > 3 || b.size() < 8 + lenBytes)
    return invalid(path, ".npy format version " + std::to_string(major) +
                             " is not 1, 2 or 3");
  size_t len = 0;
  for (size_t k = 0; k < lenBytes; ++k)
    len |= size_t(static_cast<unsigned char>(b[8 + k])) << (8 * k);
  a.offset = 8 + lenBytes + len;
  if (a.offset > b.size())
    return invalid(path, "the .npy header is truncated");
  std::string h(std::string_view(b).substr(8 + lenBytes, len));
  std::optional<std::string> descr = headerValue(h, "descr");
  std::optional<std::string> order = headerValue(h, "fortran_order");
  std::optional<std::string> shape = headerValue(h, "shape");
  if (!descr || !order || !shape)
    return invalid(path, "the .npy header lacks descr, fortran_order or shape");
  if (*order != "False")
    return invalid(path, "a Fortran-order array; save it in C order "
                         "(numpy.ascontiguousarray)");
  static const std::map<std::string, Stored> kTypes = {
      {"'|b1'", Stored::Bool}, {"'|u1'", Stored::U8},  {"'|i1'", Stored::I8},
      {"'<i2'", Stored::I16},  {"'<i4'", Stored::I32}, {"'<i8'", Stored::I64},
      {"'<f4'", Stored::F32},  {"'<f8'", Stored::F64}};
  auto type = kTypes.find(*descr);
  if (type == kTypes.end())
    return invalid(path, "element type " + *descr +
                             " is none of |b1 |u1 |i1 <i2 <i4 <i8 <f4 <f8 "
                             "(little-endian, not structured)");
  a.stored = type->second;
  // "(60000, 784)", "(5,)", "()".
  std::string dims = *shape;
  if (dims.size() < 2 || dims.front() != '(' || dims.back() != ')')
    return invalid(path, "shape " + dims + " is not a tuple");
  for (std::string_view part :
       splitAt(std::string_view(dims).substr(1, dims.size() - 2), ',')) {
    std::string p(part);
    p.erase(0, p.find_first_not_of(' '));
    p.erase(p.find_last_not_of(' ') + 1);
    if (p.empty())
      continue;
    if (p.find_first_not_of("0123456789") != std::string::npos || p.size() > 15)
      return invalid(path, "shape " + dims + " is not a tuple of sizes");
    a.shape.push_back(std::stoll(p));
  }
  if (a.shape.empty() && records)
    return invalid(path, "a 0-dimensional array holds no records");
  return absl::OkStatus();
}

// `records`: the first dimension counts records (a 0-d array is refused);
// else any shape (a value's leaf).
absl::StatusOr<Array> parseArray(const std::string &path, FileBytes bytes,
                                 bool records = true) {
  Array a;
  a.name = path;
  a.bytes = std::move(bytes);
  absl::Status s;
  if (a.bytes.size() >= 6 && a.bytes.compare(0, 6, "\x93NUMPY") == 0)
    s = parseNpy(path, a, records);
  else if (a.bytes.size() >= 4 && a.bytes[0] == 0 && a.bytes[1] == 0)
    s = parseIdx(path, a);
  else
    return invalid(path, "neither an IDX file (00 00 type rank) nor a NumPy "
                         ".npy file (\\x93NUMPY), plain or gzip");
  if (!s.ok())
    return s;
  std::optional<int64_t> count = checkedCount(a.shape);
  if (!count)
    return invalid(path, "shape " + shapeText(a.shape) + " is too large");
  size_t want = static_cast<size_t>(*count) * storedSize(a.stored);
  if (a.bytes.size() - a.offset != want)
    return invalid(path, "shape " + shapeText(a.shape) + " of " +
                             storedName(a.stored) + " needs " +
                             std::to_string(want) + " bytes of data, found " +
                             std::to_string(a.bytes.size() - a.offset));
  return a;
}

// The array a binding names: FILE (IDX or .npy, plain or gzip), or in an
// .npz archive FILE:ARRAY, or FILE alone for the array named like `field`.
absl::StatusOr<Array> readArray(const std::string &spec,
                                const std::string &field) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string file = spec, member;
  if (size_t colon = spec.rfind(':'); !fs::exists(spec, ec) &&
                                      colon != std::string::npos && colon > 0 &&
                                      fs::exists(spec.substr(0, colon), ec)) {
    file = spec.substr(0, colon);
    member = spec.substr(colon + 1);
  }
  if (detail::NpzArchive::looksLike(file)) {
    absl::StatusOr<detail::NpzArchive> archive = detail::NpzArchive::open(file);
    if (!archive.ok())
      return archive.status();
    std::string name = member.empty() ? field : member;
    absl::StatusOr<FileBytes> bytes = archive->read(name);
    if (!bytes.ok())
      return bytes.status();
    return parseArray(file + ":" + name, *std::move(bytes));
  }
  if (!member.empty())
    return invalid(file, "not an .npz archive, so ':" + member +
                             "' names no array in it");
  absl::StatusOr<FileBytes> bytes = detail::readBytes(file);
  if (!bytes.ok())
    return bytes.status();
  return parseArray(file, *std::move(bytes));
}

// Whether every value of `from` is exactly a value of `to`.
bool exactInto(Stored from, Element to) {
  switch (from) {
  case Stored::Bool:
    return to == Element::Bool;
  case Stored::U8:
    return to == Element::U8 || to == Element::I32 || to == Element::I64 ||
           to == Element::F32 || to == Element::F64;
  case Stored::I8:
    return to == Element::I8 || to == Element::I32 || to == Element::I64 ||
           to == Element::F32 || to == Element::F64;
  case Stored::I16:
    return to == Element::I32 || to == Element::I64 || to == Element::F32 ||
           to == Element::F64;
  case Stored::I32:
    return to == Element::I32 || to == Element::I64 || to == Element::F64;
  case Stored::I64:
    return to == Element::I64;
  case Stored::F32:
    return to == Element::F32 || to == Element::F64;
  case Stored::F64:
    return to == Element::F64;
  }
  return false;
}

template <class From, class To>
void convert(const unsigned char *in, bool swap, int64_t n, To *out) {
  for (int64_t i = 0; i < n; ++i) {
    unsigned char b[sizeof(From)];
    std::memcpy(b, in + i * int64_t(sizeof(From)), sizeof(From));
    if (swap)
      std::reverse(b, b + sizeof(From));
    From v;
    std::memcpy(&v, b, sizeof(From));
    out[i] = static_cast<To>(v);
  }
}

template <class To> void convertFrom(const Array &a, int64_t n, To *out) {
  const auto *in =
      reinterpret_cast<const unsigned char *>(a.bytes.data() + a.offset);
  bool swap = a.bigEndian;
  switch (a.stored) {
  case Stored::Bool:
  case Stored::U8:
    return convert<uint8_t>(in, false, n, out);
  case Stored::I8:
    return convert<int8_t>(in, false, n, out);
  case Stored::I16:
    return convert<int16_t>(in, swap, n, out);
  case Stored::I32:
    return convert<int32_t>(in, swap, n, out);
  case Stored::I64:
    return convert<int64_t>(in, swap, n, out);
  case Stored::F32:
    return convert<float>(in, swap, n, out);
  case Stored::F64:
    return convert<double>(in, swap, n, out);
  }
}

// Leaf `leaf`'s column from `a`: shape [records, leaf dims] or [records,
// leaf size]; elements converted exactly.
absl::Status fill(const std::string &path, const Array &a, const Leaf &leaf,
                  ByteColumn &column) {
  std::vector<int64_t> rest(a.shape.begin() + 1, a.shape.end());
  bool sameShape = rest == leaf.dims;
  bool flat = leaf.tensor && rest.size() > 1 && leaf.dims.size() == 1 &&
              *checkedCount(rest) == leaf.size;
  if (!sameShape && !flat)
    return invalid(
        path, "shape " + shapeText(a.shape) + " does not hold field '" +
                  leaf.name + "' (" + elementName(leaf.element) +
                  shapeText(leaf.dims) + ") per record: expected [" +
                  std::to_string(a.shape[0]) + (leaf.dims.empty() ? "" : ", ") +
                  shapeText(leaf.dims).substr(1));
  if (!exactInto(a.stored, leaf.element))
    return invalid(path, std::string("elements of ") + storedName(a.stored) +
                             " do not all fit field '" + leaf.name + "' (" +
                             elementName(leaf.element) +
                             ") exactly; convert the file or the field");
  int64_t n = *checkedCount(a.shape);
  column.resize(static_cast<size_t>(n) * elementSize(leaf.element));
  // Same type, and bytes (not words) or already little-endian: a copy.
  if (std::string_view(storedName(a.stored)) == elementName(leaf.element) &&
      (storedSize(a.stored) == 1 || !a.bigEndian)) {
    std::memcpy(column.data(), a.bytes.data() + a.offset, column.size());
    return absl::OkStatus();
  }
  visitElement(leaf.element, [&](auto zero) {
    using To = decltype(zero);
    convertFrom(a, n, reinterpret_cast<To *>(column.data()));
  });
  return absl::OkStatus();
}

} // namespace

absl::StatusOr<std::vector<FieldBinding>>
parseFieldBindings(const std::string &spec) {
  std::vector<FieldBinding> out;
  size_t eq = spec.find('=');
  if (eq == std::string::npos || spec.find('/') < eq)
    return out; // a path
  std::set<std::string> seen;
  for (std::string_view part : splitAt(spec, ',')) {
    size_t at = part.find('=');
    if (at == std::string_view::npos || at == 0 || at + 1 == part.size())
      return absl::InvalidArgumentError(
          "--data " + spec + ": '" + std::string(part) +
          "' is not FIELD=FILE (give every field its array file: "
          "x=images.idx.gz,y=labels.idx.gz)");
    FieldBinding b{std::string(part.substr(0, at)),
                   std::string(part.substr(at + 1))};
    if (!seen.insert(b.field).second)
      return absl::InvalidArgumentError("--data " + spec + ": field '" +
                                        b.field + "' is bound twice");
    out.push_back(std::move(b));
  }
  return out;
}

absl::Status loadArrays(const std::vector<FieldBinding> &bindings,
                        const RecordLayout &layout, Columns &out) {
  std::map<std::string, const FieldBinding *> byField;
  for (const FieldBinding &b : bindings)
    byField[b.field] = &b;
  std::string missing;
  for (const Leaf &leaf : layout.leaves)
    if (!byField.count(leaf.name))
      missing += (missing.empty() ? "" : ", ") + leaf.name;
  if (!missing.empty())
    return absl::InvalidArgumentError(
        "--data binds no array file to field(s) " + missing + " of the record");
  out = Columns{};
  out.columns.resize(layout.leaves.size());
  std::string first; // the first array's name
  for (size_t j = 0; j < layout.leaves.size(); ++j) {
    const FieldBinding &b = *byField.at(layout.leaves[j].name);
    byField.erase(b.field);
    absl::StatusOr<Array> a = readArray(b.path, b.field);
    if (!a.ok())
      return a.status();
    if (first.empty()) {
      first = a->name;
      out.records = a->shape[0];
    } else if (a->shape[0] != out.records) {
      return invalid(a->name, "holds " + std::to_string(a->shape[0]) +
                                  " records, but " + first + " holds " +
                                  std::to_string(out.records));
    }
    if (absl::Status s = fill(a->name, *a, layout.leaves[j], out.columns[j]);
        !s.ok())
      return s;
  }
  if (!byField.empty())
    return absl::InvalidArgumentError("--data binds '" +
                                      byField.begin()->first +
                                      "', which is not a field of the record");
  return absl::OkStatus();
}

absl::Status loadNpz(const std::string &path, const RecordLayout &layout,
                     Columns &out, std::vector<std::string> *unbound) {
  absl::StatusOr<detail::NpzArchive> archive = detail::NpzArchive::open(path);
  if (!archive.ok())
    return archive.status();
  std::vector<FieldBinding> bindings;
  std::set<std::string> leaves;
  for (const Leaf &leaf : layout.leaves) {
    bindings.push_back({leaf.name, path + ":" + leaf.name});
    leaves.insert(leaf.name);
  }
  if (unbound)
    for (const std::string &a : archive->arrays())
      if (!leaves.count(a))
        unbound->push_back(a + ".npy");
  return loadArrays(bindings, layout, out);
}

namespace {

// Each tensor leaf of `type` with its path: a struct's fields by name
// (nested: "x.w"), a tuple's elements by index ("0").
void leafPaths(const TypeDesc &type, const std::string &prefix,
               std::vector<std::pair<std::string, const TypeDesc *>> &out) {
  if (type.kind == TypeDesc::Kind::Tensor) {
    out.emplace_back(prefix, &type);
    return;
  }
  for (size_t i = 0; i < type.children.size(); ++i) {
    std::string name = type.kind == TypeDesc::Kind::Struct ? type.fields[i]
                                                           : std::to_string(i);
    leafPaths(type.children[i], prefix.empty() ? name : prefix + "." + name,
              out);
  }
}

// Leaf `t` from array `a`: the leaf's exact shape; elements exact, f64
// into f32 only when every value is a float32 (numpy's default dtype is
// float64, and a model saved from float32 arrays converts back exactly).
absl::Status leafFromArray(const std::string &where, const Array &a,
                           const TypeDesc &t, Tensor &out) {
  if (a.shape != t.dims)
    return invalid(where, "shape " + shapeText(a.shape) + ", the state's " +
                              "leaf is " + t.str());
  bool toFloat32 = a.stored == Stored::F64 && t.element == Element::F32;
  bool intStored = a.stored == Stored::I8 || a.stored == Stored::I16 ||
                   a.stored == Stored::I32 || a.stored == Stored::I64 ||
                   a.stored == Stored::U8;
  bool toInt = intStored && elementKind(t.element) != ElementKind::Float &&
               t.element != Element::Bool;
  if (exactInto(a.stored, t.element)) {
    visitElement(t.element, [&](auto zero) {
      using To = decltype(zero);
      convertFrom(a, out.count, out.as<To>());
    });
    return absl::OkStatus();
  }
  if (!toFloat32 && !toInt)
    return invalid(where, std::string("elements of ") + storedName(a.stored) +
                              " do not all fit " + elementName(t.element) +
                              " exactly");
  // Narrowed element by element, each checked (NumPy's default int64 and
  // float64 arrays hold a state's i32 and f32 values).
  std::vector<double> reals(toFloat32 ? static_cast<size_t>(out.count) : 0);
  std::vector<int64_t> ints(toInt ? static_cast<size_t>(out.count) : 0);
  if (toFloat32)
    convertFrom(a, out.count, reals.data());
  else
    convertFrom(a, out.count, ints.data());
  size_t size = elementSize(t.element);
  for (size_t i = 0; i < static_cast<size_t>(out.count); ++i) {
    if (toInt && !storeInteger(ints[i], t.element, out.data.get() + i * size))
      return invalid(where, "element " + std::to_string(i) + " (" +
                                std::to_string(ints[i]) + ") does not fit " +
                                elementName(t.element));
    if (!toFloat32)
      continue;
    auto f = static_cast<float>(reals[i]);
    if (static_cast<double>(f) != reals[i] && !std::isnan(reals[i]))
      return invalid(where, "element " + std::to_string(i) + " (" +
                                std::to_string(reals[i]) +
                                ") is not a float32; save the array with "
                                ".astype(numpy.float32)");
    out.as<float>()[i] = f;
  }
  return absl::OkStatus();
}

} // namespace

bool looksLikeNpz(const std::string &path) {
  return detail::NpzArchive::looksLike(path);
}

absl::StatusOr<HostValue> valueFromNpz(const TypeDesc &type,
                                       const std::string &path) {
  absl::StatusOr<detail::NpzArchive> archive = detail::NpzArchive::open(path);
  if (!archive.ok())
    return archive.status();
  std::vector<std::pair<std::string, const TypeDesc *>> leaves;
  leafPaths(type, "", leaves);
  HostValue v = HostValue::zeros(type);
  std::set<std::string> used;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const auto &[name, leaf] = leaves[i];
    if (name.empty()) // a tensor state: its one array, whatever its name
      return invalid(path, "the state is a tensor; --init-state .npz needs "
                           "a struct (each field an array)");
    absl::StatusOr<FileBytes> bytes = archive->read(name);
    if (!bytes.ok())
      return absl::InvalidArgumentError(std::string(bytes.status().message()));
    absl::StatusOr<Array> a =
        parseArray(path + ":" + name, *std::move(bytes), false);
    if (!a.ok())
      return a.status();
    if (absl::Status s =
            leafFromArray(path + ":" + name, *a, *leaf, v.leaves[i]);
        !s.ok())
      return s;
    used.insert(name);
  }
  for (const std::string &name : archive->arrays())
    if (!used.count(name))
      return invalid(path + ":" + name, "no leaf of the state is named so "
                                        "(nested fields are 'outer.inner')");
  return v;
}

} // namespace fedrt
