// Values from JSON (fedrt/Json.h).
#include "fedrt/Json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace fedrt {

namespace {

using json = nlohmann::json;

absl::Status invalid(const std::string &why) {
  return absl::InvalidArgumentError(why);
}

// One element of `e` from a JSON scalar, written at `out`.
absl::Status element(const json &j, Element e, unsigned char *out) {
  switch (elementKind(e)) {
  case ElementKind::Bool:
    if (!j.is_boolean())
      return invalid("expected true or false, found " + j.dump());
    *out = j.get<bool>() ? 1 : 0;
    return absl::OkStatus();
  case ElementKind::Float: {
    double v = 0;
    if (j.is_number()) {
      v = j.get<double>();
    } else if (j.is_string() && (j == "nan" || j == "inf" || j == "-inf")) {
      std::string s = j.get<std::string>();
      v = s == "nan"   ? std::numeric_limits<double>::quiet_NaN()
          : s == "inf" ? std::numeric_limits<double>::infinity()
                       : -std::numeric_limits<double>::infinity();
    } else {
      return invalid("expected a number, found " + j.dump());
    }
    if (e == Element::F32) {
      auto f = static_cast<float>(v);
      if (std::isinf(f) && std::isfinite(v))
        return invalid(j.dump() + " does not fit f32");
      std::memcpy(out, &f, 4);
    } else {
      std::memcpy(out, &v, 8);
    }
    return absl::OkStatus();
  }
  case ElementKind::Signed:
  case ElementKind::Unsigned: {
    if (!j.is_number_integer())
      return invalid("expected an integer, found " + j.dump());
    if (j.is_number_unsigned() &&
        j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return invalid(j.dump() + " does not fit " + elementName(e));
    if (!storeInteger(j.get<int64_t>(), e, out))
      return invalid(j.dump() + " does not fit " + elementName(e));
    return absl::OkStatus();
  }
  }
  return invalid("an unknown element type");
}

// The shape of a nested array of depth `rank`.
absl::Status shapeOf(const json &j, size_t rank, std::vector<int64_t> &dims) {
  const json *x = &j;
  for (size_t k = 0; k < rank; ++k) {
    if (!x->is_array())
      return invalid("expected a nested array of depth " +
                     std::to_string(rank));
    dims.push_back(static_cast<int64_t>(x->size()));
    if (x->empty()) {
      for (size_t r = k + 1; r < rank; ++r)
        dims.push_back(0);
      return absl::OkStatus();
    }
    x = &(*x)[0];
  }
  return absl::OkStatus();
}

absl::Status elements(const json &j, Tensor &t, size_t level, int64_t &index) {
  if (level == t.dims.size())
    return element(j, t.element,
                   t.data.get() +
                       index++ * static_cast<int64_t>(elementSize(t.element)));
  if (!j.is_array() || static_cast<int64_t>(j.size()) != t.dims[level])
    return invalid("a ragged tensor: rows of different lengths");
  for (const json &x : j)
    if (absl::Status s = elements(x, t, level + 1, index); !s.ok())
      return s;
  return absl::OkStatus();
}

// `inner` said where: "field 'w': ...", "element 1: ...".
absl::Status within(const std::string &where, const absl::Status &inner) {
  return inner.ok() ? inner
                    : invalid(where + ": " + std::string(inner.message()));
}

absl::Status value(const json &j, const TypeDesc &type, HostValue &out,
                   bool exact) {
  switch (type.kind) {
  case TypeDesc::Kind::Tensor: {
    std::vector<int64_t> dims;
    if (absl::Status s = shapeOf(j, type.dims.size(), dims); !s.ok())
      return s;
    for (size_t k = 0; k < dims.size(); ++k)
      if (type.dims[k] >= 0 && type.dims[k] != dims[k])
        return invalid("dimension " + std::to_string(k) + " is " +
                       std::to_string(dims[k]) + ", " + type.str() +
                       " expects " + std::to_string(type.dims[k]));
    Tensor &t = out.leaves.emplace_back();
    t.allocate(type.element, dims, /*zero=*/false);
    int64_t index = 0;
    return elements(j, t, 0, index);
  }
  case TypeDesc::Kind::Struct:
    if (!j.is_object())
      return invalid("expected an object for " + type.name);
    for (size_t i = 0; i < type.children.size(); ++i) {
      auto f = j.find(type.fields[i]);
      if (f == j.end())
        return invalid("missing field '" + type.fields[i] + "' of " +
                       type.name);
      if (absl::Status s = value(*f, type.children[i], out, exact); !s.ok())
        return within("field '" + type.fields[i] + "'", s);
    }
    if (exact)
      for (auto it = j.begin(); it != j.end(); ++it)
        if (std::find(type.fields.begin(), type.fields.end(), it.key()) ==
            type.fields.end())
          return invalid(type.name + " has no field '" + it.key() + "'");
    return absl::OkStatus();
  case TypeDesc::Kind::Tuple:
    if (!j.is_array() || j.size() != type.children.size())
      return invalid("expected an array of " +
                     std::to_string(type.children.size()) + " for " +
                     type.str());
    for (size_t i = 0; i < type.children.size(); ++i)
      if (absl::Status s = value(j[i], type.children[i], out, exact); !s.ok())
        return within("element " + std::to_string(i), s);
    return absl::OkStatus();
  case TypeDesc::Kind::Seq:
    break;
  }
  return invalid("values of type " + type.str() + " are not read from JSON");
}

absl::StatusOr<json> parse(std::string_view text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error &e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 6:
    // syntax error ..." without the library's prefix.
    std::string what = e.what();
    size_t at = what.find("parse error");
    return invalid("invalid JSON: " +
                   (at == std::string::npos ? what : what.substr(at)));
  } catch (const json::exception &e) {
    // A number beyond f64 ("1e999") is out_of_range, not a parse_error.
    std::string what = e.what();
    size_t at = what.find("] ");
    return invalid("invalid JSON: " +
                   (at == std::string::npos ? what : what.substr(at + 2)));
  }
}

} // namespace

absl::StatusOr<HostValue>
valueFromJson(const TypeDesc &type, std::string_view text, bool exactFields) {
  absl::StatusOr<json> j = parse(text);
  if (!j.ok())
    return j.status();
  HostValue out;
  if (absl::Status s = value(*j, type, out, exactFields); !s.ok())
    return s;
  return out;
}

absl::StatusOr<Columns> recordsFromJson(const TypeDesc &record,
                                        std::string_view text) {
  absl::StatusOr<json> j = parse(text);
  if (!j.ok())
    return j.status();
  if (!j->is_array())
    return invalid("expected an array of records for seq<" + record.str() +
                   ">");
  if (record.hasDynamicDim())
    return invalid("records of " + record.str() + " have no fixed width");
  std::vector<const TypeDesc *> leaves;
  record.tensorLeaves(leaves);
  Columns out;
  out.records = static_cast<int64_t>(j->size());
  out.columns.resize(leaves.size());
  for (const json &r : *j) {
    HostValue v;
    if (absl::Status s = value(r, record, v, false); !s.ok())
      return s;
    for (size_t k = 0; k < leaves.size(); ++k)
      out.columns[k].insert(out.columns[k].end(), v.leaves[k].data.get(),
                            v.leaves[k].data.get() + v.leaves[k].bytes());
  }
  return out;
}

} // namespace fedrt
