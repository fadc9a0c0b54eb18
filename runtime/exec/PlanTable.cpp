// Parsing the plan table codegen emits (compiler/codegen/EmitStages.cpp).
#include "fedrt/Plan.h"

#include <cstdlib>
#include <sstream>

namespace fedrt {

int64_t TypeDesc::elements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
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
  case Kind::Seq:
    return 1 + recordLayout(children[0]).leaves.size();
  }
  return 0;
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

namespace {

class TypeParser {
public:
  explicit TypeParser(const std::string &text) : s_(text) {}

  bool parse(TypeDesc &out, std::string &error) {
    if (!type(out, 0) || pos_ != s_.size()) {
      error = "malformed type '" + s_ + "' at offset " + std::to_string(pos_);
      return false;
    }
    return true;
  }

private:
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string word() {
    size_t start = pos_;
    while (
        pos_ < s_.size() &&
        (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
      ++pos_;
    return s_.substr(start, pos_ - start);
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
    std::string w = word();
    if (w.empty())
      return false;
    if (w == "seq" && eat('<')) {
      t.kind = TypeDesc::Kind::Seq;
      t.children.emplace_back();
      return type(t.children.back(), depth + 1) && eat('>');
    }
    static const std::pair<const char *, Element> elements[] = {
        {"f32", Element::F32},
        {"f64", Element::F64},
        {"i32", Element::I32},
        {"i64", Element::I64},
        {"bool", Element::Bool}};
    for (const auto &[spelling, element] : elements) {
      if (w != spelling)
        continue;
      t.kind = TypeDesc::Kind::Tensor;
      t.element = element;
      if (eat('[')) {
        do {
          if (eat('?')) {
            t.dims.push_back(-1);
            continue;
          }
          std::string digits = word();
          if (digits.empty() || digits.size() > 12 ||
              digits.find_first_not_of("0123456789") != std::string::npos)
            return false;
          t.dims.push_back(std::stoll(digits));
        } while (eat(','));
        return eat(']');
      }
      return true;
    }
    t.kind = TypeDesc::Kind::Struct;
    t.name = w;
    if (!eat('{'))
      return false;
    if (eat('}'))
      return true;
    do {
      std::string field = word();
      if (field.empty() || !eat(':'))
        return false;
      t.fields.push_back(field);
      t.children.emplace_back();
      if (!type(t.children.back(), depth + 1))
        return false;
    } while (eat(','));
    return eat('}');
  }

  const std::string &s_;
  size_t pos_ = 0;
};

void flattenRecord(const TypeDesc &t, const std::string &name,
                   RecordLayout &out) {
  switch (t.kind) {
  case TypeDesc::Kind::Tensor:
    out.leaves.push_back(Leaf{name, t.element, t.elements(), !t.dims.empty()});
    break;
  case TypeDesc::Kind::Struct:
  case TypeDesc::Kind::Tuple:
    for (size_t i = 0; i < t.children.size(); ++i) {
      std::string field =
          t.kind == TypeDesc::Kind::Struct ? t.fields[i] : std::to_string(i);
      flattenRecord(t.children[i], name.empty() ? field : name + "_" + field,
                    out);
    }
    break;
  case TypeDesc::Kind::Seq:
    break; // sema rejects seqs inside records
  }
}

} // namespace

bool parseType(const std::string &text, TypeDesc &out, std::string &error) {
  out = TypeDesc();
  return TypeParser(text).parse(out, error);
}

RecordLayout recordLayout(const TypeDesc &record) {
  RecordLayout layout;
  flattenRecord(record, "", layout);
  return layout;
}

uint64_t PlanTable::fingerprint() const {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const auto &c : computations) {
    h ^= c->fingerprint;
    h *= 0x100000001b3ull;
  }
  return h;
}

bool parsePlanTable(const char *text, const StageFn *functions,
                    size_t functionCount, PlanTable &out, std::string &error) {
  out = PlanTable{};
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  Computation *comp = nullptr;
  Stage *stage = nullptr;
  Aggregation *agg = nullptr;
  std::vector<std::string> roles;
  auto fail = [&](const std::string &why) {
    error = "plan table line " + std::to_string(lineNo) + ": " + why;
    return false;
  };
  auto fn = [&](std::istream &words, StageFn &f) {
    size_t i = functionCount;
    words >> i;
    if (i >= functionCount)
      return false;
    f = functions[i];
    return true;
  };
  auto typeRest = [&](std::istream &words, TypeDesc &t) {
    std::string rest;
    words >> rest;
    return parseType(rest, t, error);
  };
  while (std::getline(in, line)) {
    ++lineNo;
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (lineNo == 1) {
      if (line != "fedrt-plan 1")
        return fail("unknown plan table version");
      continue;
    }
    if (key == "process") {
      out.kind = PlanTable::Kind::Process;
      roles.resize(3);
      words >> out.processName >> roles[0] >> roles[1] >> roles[2];
    } else if (key == "main") {
      out.kind = PlanTable::Kind::Main;
      roles.resize(1);
      words >> roles[0];
    } else if (key == "none") {
      out.kind = PlanTable::Kind::None;
    } else if (key == "computation") {
      out.computations.push_back(std::make_unique<Computation>());
      comp = out.computations.back().get();
      std::string hex;
      words >> comp->name >> hex;
      comp->fingerprint = std::strtoull(hex.c_str(), nullptr, 16);
      stage = nullptr;
    } else if (!comp) {
      return fail("'" + key + "' outside a computation");
    } else if (key == "input") {
      Computation::Input input;
      std::string where;
      words >> where >> input.name;
      input.clients = where == "clients";
      if (!typeRest(words, input.type))
        return false;
      comp->inputs.push_back(std::move(input));
    } else if (key == "stage") {
      comp->stages.emplace_back();
      stage = &comp->stages.back();
      if (!fn(words, stage->server) || !fn(words, stage->client))
        return fail("bad function index");
    } else if (key == "broadcast" && stage) {
      stage->broadcasts.emplace_back();
      if (!typeRest(words, stage->broadcasts.back()))
        return false;
    } else if (key == "aggregate" && stage) {
      stage->aggregations.emplace_back();
      agg = &stage->aggregations.back();
      std::string kind;
      words >> kind;
      using K = Aggregation::Kind;
      if (kind == "mean")
        agg->kind = K::Mean;
      else if (kind == "wmean")
        agg->kind = K::WeightedMean;
      else if (kind == "sum")
        agg->kind = K::Sum;
      else if (kind == "min")
        agg->kind = K::Min;
      else if (kind == "max")
        agg->kind = K::Max;
      else if (kind == "secure_sum") {
        agg->kind = K::SecureSum;
        words >> agg->bitwidth;
      } else if (kind == "custom") {
        agg->kind = K::Custom;
        if (!fn(words, agg->accumulate) || !fn(words, agg->merge) ||
            !fn(words, agg->report))
          return fail("bad function index");
      } else {
        return fail("unknown aggregation '" + kind + "'");
      }
    } else if (key == "value" && agg) {
      if (!typeRest(words, agg->value))
        return false;
    } else if (key == "accumulator" && agg) {
      if (!typeRest(words, agg->accumulator))
        return false;
    } else if (key == "result") {
      TypeDesc t;
      if (!typeRest(words, t))
        return false;
      if (agg)
        agg->result = std::move(t);
      else
        comp->results.push_back(std::move(t));
      agg = nullptr;
    } else if (key == "update") {
      stage = nullptr;
      agg = nullptr;
      if (!fn(words, comp->update))
        return fail("bad function index");
    } else if (key == "end") {
      comp = nullptr;
    } else {
      return fail("unexpected '" + key + "'");
    }
  }
  auto find = [&](const std::string &name) -> const Computation * {
    for (const auto &c : out.computations)
      if (c->name == name)
        return c.get();
    return nullptr;
  };
  if (out.kind == PlanTable::Kind::Process) {
    out.init = find(roles[0]);
    out.next = find(roles[1]);
    out.eval = roles[2] == "-" ? nullptr : find(roles[2]);
    if (!out.init || !out.next || (roles[2] != "-" && !out.eval))
      return fail("a process computation is missing");
  } else if (out.kind == PlanTable::Kind::Main) {
    out.main = find(roles[0]);
    if (!out.main)
      return fail("main is missing");
  }
  return true;
}

} // namespace fedrt
