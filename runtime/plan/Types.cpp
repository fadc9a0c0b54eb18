// Value types (fedrt/Types.h): the element table, the layout spelling and
// its parser, slot counts, and the conversion to and from plan.proto.
#include "fedrt/Types.h"

#include "plan.pb.h"

#include <cctype>

namespace fedrt {

namespace {

struct ElementInfo {
  const char *name;
  size_t bytes;
  ElementKind kind;
};

constexpr ElementInfo kElements[] = {
#define ELEMENT(Name, spelling, bytes, ctype, kind)                            \
  {spelling, bytes, ElementKind::kind},
#include "fedrt/Elements.def"
};

// plan.proto's Element enum has the table's names in its order.
#define ELEMENT(Name, spelling, bytes, ctype, kind)                            \
  static_assert(static_cast<int>(Element::Name) ==                             \
                    static_cast<int>(proto::Name),                             \
                "plan.proto's Element follows fedrt/Elements.def");
#include "fedrt/Elements.def"

const ElementInfo &info(Element e) { return kElements[static_cast<size_t>(e)]; }

} // namespace

const char *elementName(Element e) { return info(e).name; }
size_t elementSize(Element e) { return info(e).bytes; }
ElementKind elementKind(Element e) { return info(e).kind; }

std::optional<Element> elementNamed(std::string_view spelling) {
  for (size_t i = 0; i < std::size(kElements); ++i)
    if (spelling == kElements[i].name)
      return static_cast<Element>(i);
  return std::nullopt;
}

bool storeInteger(int64_t v, Element e, unsigned char *out) {
  if (elementKind(e) != ElementKind::Signed &&
      elementKind(e) != ElementKind::Unsigned)
    return false;
  return visitElement(e, [&](auto x) {
    using T = decltype(x);
    if constexpr (std::is_integral_v<T>) {
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (std::is_signed_v<T> || sizeof(T) < 8
               ? v > static_cast<int64_t>(std::numeric_limits<T>::max())
               : false))
        return false;
      T t = static_cast<T>(v);
      std::memcpy(out, &t, sizeof t);
      return true;
    }
    return false;
  });
}

int64_t loadInteger(Element e, const unsigned char *p) {
  return visitElement(e, [&](auto x) -> int64_t {
    decltype(x) t;
    std::memcpy(&t, p, sizeof t);
    return static_cast<int64_t>(t);
  });
}

double loadReal(Element e, const unsigned char *p) {
  return visitElement(e, [&](auto x) -> double {
    decltype(x) t;
    std::memcpy(&t, p, sizeof t);
    return static_cast<double>(t);
  });
}

TypeDesc TypeDesc::tensor(Element e, std::vector<int64_t> dims) {
  TypeDesc t;
  t.kind = Kind::Tensor;
  t.element = e;
  t.dims = std::move(dims);
  return t;
}

int64_t TypeDesc::elements() const {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0)
      return -1;
    n *= d;
  }
  return n;
}

bool TypeDesc::hasDynamicDim() const {
  if (kind == Kind::Tensor)
    return elements() < 0;
  for (const TypeDesc &c : children)
    if (c.hasDynamicDim())
      return true;
  return false;
}

void TypeDesc::tensorLeaves(std::vector<const TypeDesc *> &out) const {
  if (kind == Kind::Tensor) {
    out.push_back(this);
    return;
  }
  if (kind == Kind::Seq)
    return;
  for (const TypeDesc &c : children)
    c.tensorLeaves(out);
}

size_t TypeDesc::slots() const {
  switch (kind) {
  case Kind::Tensor:
    return dims.empty() ? 1 : 1 + dims.size();
  case Kind::Struct:
  case Kind::Tuple: {
    size_t n = 0;
    for (const TypeDesc &c : children)
      n += c.slots();
    return n;
  }
  case Kind::Seq: {
    std::vector<const TypeDesc *> leaves;
    children[0].tensorLeaves(leaves);
    return 1 + leaves.size();
  }
  }
  return 0;
}

int64_t TypeDesc::bytes() const {
  if (kind == Kind::Tensor)
    return elements() * static_cast<int64_t>(elementSize(element));
  if (kind == Kind::Seq)
    return 0;
  int64_t n = 0;
  for (const TypeDesc &c : children)
    n += c.bytes();
  return n;
}

std::string TypeDesc::str() const {
  switch (kind) {
  case Kind::Tensor: {
    std::string s = elementName(element);
    if (dims.empty())
      return s;
    s += "[";
    for (size_t k = 0; k < dims.size(); ++k)
      s += (k ? "," : "") + (dims[k] < 0 ? "?" : std::to_string(dims[k]));
    return s + "]";
  }
  case Kind::Struct: {
    std::string s = name + "{";
    for (size_t i = 0; i < children.size(); ++i)
      s += (i ? "," : "") + fields[i] + ":" + children[i].str();
    return s + "}";
  }
  case Kind::Tuple: {
    std::string s = "(";
    for (size_t i = 0; i < children.size(); ++i)
      s += (i ? "," : "") + children[i].str();
    return s + ")";
  }
  case Kind::Seq:
    return "seq<" + children[0].str() + ">";
  }
  return "?";
}

bool TypeDesc::operator==(const TypeDesc &o) const {
  return kind == o.kind && element == o.element && dims == o.dims &&
         name == o.name && fields == o.fields && children == o.children;
}

void TypeDesc::toProto(proto::Type &out) const {
  out.Clear();
  switch (kind) {
  case Kind::Tensor: {
    proto::Tensor *t = out.mutable_tensor();
    t->set_element(static_cast<proto::Element>(element));
    for (int64_t d : dims)
      t->add_dims(d);
    return;
  }
  case Kind::Struct: {
    proto::Structure *s = out.mutable_structure();
    s->set_name(name);
    for (size_t i = 0; i < children.size(); ++i) {
      proto::Field *f = s->add_fields();
      f->set_name(fields[i]);
      children[i].toProto(*f->mutable_type());
    }
    return;
  }
  case Kind::Tuple:
    for (const TypeDesc &c : children)
      c.toProto(*out.mutable_tuple()->add_elements());
    return;
  case Kind::Seq:
    children[0].toProto(*out.mutable_sequence()->mutable_record());
    return;
  }
}

namespace {

absl::Status typeFromProto(const proto::Type &in, TypeDesc &t, int depth) {
  if (depth > 64)
    return absl::InvalidArgumentError("a type nested deeper than 64 levels");
  switch (in.kind_case()) {
  case proto::Type::kTensor: {
    const proto::Tensor &x = in.tensor();
    if (x.element() < 0 ||
        static_cast<size_t>(x.element()) >= std::size(kElements))
      return absl::InvalidArgumentError("an unknown element type " +
                                        std::to_string(x.element()));
    t.kind = TypeDesc::Kind::Tensor;
    t.element = static_cast<Element>(x.element());
    for (int64_t d : x.dims()) {
      if (d < -1)
        return absl::InvalidArgumentError("a dimension of " +
                                          std::to_string(d));
      t.dims.push_back(d);
    }
    return absl::OkStatus();
  }
  case proto::Type::kStructure:
    t.kind = TypeDesc::Kind::Struct;
    t.name = in.structure().name();
    for (const proto::Field &f : in.structure().fields()) {
      t.fields.push_back(f.name());
      t.children.emplace_back();
      if (absl::Status s =
              typeFromProto(f.type(), t.children.back(), depth + 1);
          !s.ok())
        return s;
    }
    return absl::OkStatus();
  case proto::Type::kTuple:
    t.kind = TypeDesc::Kind::Tuple;
    for (const proto::Type &e : in.tuple().elements()) {
      t.children.emplace_back();
      if (absl::Status s = typeFromProto(e, t.children.back(), depth + 1);
          !s.ok())
        return s;
    }
    return absl::OkStatus();
  case proto::Type::kSequence:
    t.kind = TypeDesc::Kind::Seq;
    t.children.emplace_back();
    return typeFromProto(in.sequence().record(), t.children.back(), depth + 1);
  case proto::Type::KIND_NOT_SET:
    break;
  }
  return absl::InvalidArgumentError("a type with no kind");
}

// The layout spelling's grammar (TypeDesc::str), read back.
class TypeParser {
public:
  explicit TypeParser(std::string_view text) : s_(text) {}

  absl::StatusOr<TypeDesc> parse() {
    TypeDesc t;
    if (!type(t, 0) || pos_ != s_.size())
      return absl::InvalidArgumentError("malformed type '" + std::string(s_) +
                                        "' at offset " + std::to_string(pos_));
    return t;
  }

private:
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string_view word() {
    size_t start = pos_;
    while (
        pos_ < s_.size() &&
        (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
      ++pos_;
    return s_.substr(start, pos_ - start);
  }

  bool dimensions(TypeDesc &t) {
    do {
      if (eat('?')) {
        t.dims.push_back(-1);
        continue;
      }
      std::string_view digits = word();
      if (digits.empty() || digits.size() > 12 ||
          digits.find_first_not_of("0123456789") != std::string_view::npos)
        return false;
      t.dims.push_back(std::stoll(std::string(digits)));
    } while (eat(','));
    return eat(']');
  }

  bool type(TypeDesc &t, int depth) {
    if (depth > 64)
      return false;
    if (eat('(')) {
      t.kind = TypeDesc::Kind::Tuple;
      do {
        t.children.emplace_back();
        if (!type(t.children.back(), depth + 1))
          return false;
      } while (eat(','));
      return eat(')');
    }
    std::string_view w = word();
    if (w.empty())
      return false;
    if (w == "seq" && eat('<')) {
      t.kind = TypeDesc::Kind::Seq;
      t.children.emplace_back();
      return type(t.children.back(), depth + 1) && eat('>');
    }
    if (std::optional<Element> e = elementNamed(w)) {
      t.kind = TypeDesc::Kind::Tensor;
      t.element = *e;
      return !eat('[') || dimensions(t);
    }
    t.kind = TypeDesc::Kind::Struct;
    t.name = std::string(w);
    if (!eat('{'))
      return false;
    if (eat('}'))
      return true;
    do {
      std::string_view field = word();
      if (field.empty() || !eat(':'))
        return false;
      t.fields.emplace_back(field);
      t.children.emplace_back();
      if (!type(t.children.back(), depth + 1))
        return false;
    } while (eat(','));
    return eat('}');
  }

  std::string_view s_;
  size_t pos_ = 0;
};

} // namespace

absl::StatusOr<TypeDesc> TypeDesc::fromProto(const proto::Type &in) {
  TypeDesc t;
  if (absl::Status s = typeFromProto(in, t, 0); !s.ok())
    return s;
  return t;
}

absl::StatusOr<TypeDesc> parseType(std::string_view text) {
  return TypeParser(text).parse();
}

} // namespace fedrt
