// JSON Lines client files (docs/runtime.md, "Data"): one record per line,
// either an object whose keys name the record's fields (a tensor field as a
// possibly nested array, row-major; a nested struct as a nested object or
// `outer_inner` keys) or an array of the flattened record's values in
// declaration order.
#include "TextInput.h"
#include "fedrt/Data.h"

#include <cerrno>
#include <cstring>
#include <map>

namespace fedrt {

namespace {

// A scalar of the line and the 1-based column where it starts.
struct Scalar {
  std::string text; // as written (numbers) or true/false
  size_t column = 0;
  bool isString = false;
};

// Parses one line into flattened `key -> scalars` (objects) or a positional
// list (arrays); enough JSON for records, with located errors.
class LineParser {
public:
  explicit LineParser(const std::string &line) : s_(line) {}

  bool parse(std::map<std::string, std::vector<Scalar>> &fields,
             std::vector<Scalar> &positional, bool &isObject,
             std::string &error) {
    space();
    isObject = peek() == '{';
    bool ok = isObject ? object("", fields, 0) : array(positional, 0);
    space();
    if (ok && pos_ != s_.size())
      ok = fail("unexpected text after the record");
    if (!ok)
      error = error_;
    return ok;
  }
  size_t column() const { return errorColumn_; }

private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool fail(const std::string &why) {
    if (error_.empty()) {
      error_ = why;
      errorColumn_ = pos_ + 1;
    }
    return false;
  }
  bool expect(char c) {
    space();
    if (peek() != c)
      return fail(std::string("expected '") + c + "'");
    ++pos_;
    return true;
  }

  bool string(std::string &out) {
    if (!expect('"'))
      return false;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\\') {
        if (++pos_ >= s_.size())
          break;
      }
      out += s_[pos_++];
    }
    return expect('"');
  }

  bool scalar(std::vector<Scalar> &out) {
    space();
    Scalar v;
    v.column = pos_ + 1;
    if (peek() == '"') {
      v.isString = true;
      if (!string(v.text))
        return false;
      out.push_back(v);
      return true;
    }
    size_t start = pos_;
    while (pos_ < s_.size() && std::strchr(",]} \t\r", s_[pos_]) == nullptr)
      ++pos_;
    if (pos_ == start)
      return fail("expected a value");
    v.text = s_.substr(start, pos_ - start);
    out.push_back(v);
    return true;
  }

  bool array(std::vector<Scalar> &out, int depth) {
    if (depth > 32)
      return fail("nested too deeply");
    if (!expect('['))
      return false;
    space();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    do {
      space();
      if (peek() == '[') {
        if (!array(out, depth + 1))
          return false;
      } else if (peek() == '{') {
        return fail("an object inside an array");
      } else if (!scalar(out)) {
        return false;
      }
      space();
    } while (peek() == ',' && ++pos_);
    return expect(']');
  }

  bool object(const std::string &prefix,
              std::map<std::string, std::vector<Scalar>> &fields, int depth) {
    if (depth > 32)
      return fail("nested too deeply");
    if (!expect('{'))
      return false;
    space();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    do {
      std::string key;
      space();
      if (!string(key) || !expect(':'))
        return false;
      key = prefix.empty() ? key : prefix + "_" + key;
      space();
      if (peek() == '{') {
        if (!object(key, fields, depth + 1))
          return false;
      } else {
        std::vector<Scalar> &values = fields[key];
        if (!values.empty())
          return fail("duplicate key '" + key + "'");
        if (peek() == '[' ? !array(values, depth + 1) : !scalar(values))
          return false;
      }
      space();
    } while (peek() == ',' && ++pos_);
    return expect('}');
  }

  const std::string &s_;
  size_t pos_ = 0;
  std::string error_;
  size_t errorColumn_ = 0;
};

} // namespace

bool loadJsonLines(const std::string &path, const RecordLayout &layout,
                   Columns &out, std::string &error) {
  detail::GzFile f{gzopen(path.c_str(), "rb")};
  if (!f.file) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  out = Columns{};
  out.columns.resize(layout.leaves.size());
  std::string line;
  int64_t lineNo = 0;
  detail::LineReader reader(f.file);
  while (reader.next(line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::map<std::string, std::vector<Scalar>> fields;
    std::vector<Scalar> positional;
    bool isObject = false;
    LineParser parser(line);
    std::string why;
    auto where = [&](size_t column) {
      return path + ":" + std::to_string(lineNo) + ":" +
             std::to_string(column) + ": ";
    };
    if (!parser.parse(fields, positional, isObject, why)) {
      error = where(parser.column()) + why;
      return false;
    }
    if (!isObject && positional.size() != static_cast<size_t>(layout.width())) {
      error = where(1) + "expected " + std::to_string(layout.width()) +
              " values, found " + std::to_string(positional.size());
      return false;
    }
    size_t next = 0;
    for (size_t j = 0; j < layout.leaves.size(); ++j) {
      const Leaf &leaf = layout.leaves[j];
      const std::vector<Scalar> *values = &positional;
      size_t first = next;
      if (isObject) {
        std::string key = leaf.name.empty() && fields.size() == 1
                              ? fields.begin()->first
                              : leaf.name;
        auto it = fields.find(key);
        if (it == fields.end()) {
          error = where(1) + "missing field '" + key + "'";
          return false;
        }
        values = &it->second;
        first = 0;
        if (values->size() != static_cast<size_t>(leaf.size)) {
          error = where(values->empty() ? 1 : (*values)[0].column) +
                  "expected " + std::to_string(leaf.size) +
                  " values for field '" + key + "', found " +
                  std::to_string(values->size());
          return false;
        }
      }
      size_t size = elementSize(leaf.element);
      std::vector<unsigned char> &column = out.columns[j];
      for (int64_t k = 0; k < leaf.size; ++k) {
        const Scalar &v = (*values)[first + static_cast<size_t>(k)];
        column.resize(column.size() + size);
        if (v.isString ||
            !detail::parseValue(v.text, leaf.element,
                                column.data() + column.size() - size)) {
          error = where(v.column) + "expected " + elementName(leaf.element) +
                  (leaf.name.empty() ? std::string()
                                     : " for field '" + leaf.name + "'") +
                  ", found '" + v.text + "'";
          return false;
        }
      }
      if (!isObject)
        next += static_cast<size_t>(leaf.size);
    }
    ++out.records;
  }
  if (!reader.error().empty()) {
    error = path + ":" + reader.error();
    return false;
  }
  return true;
}

} // namespace fedrt
