// JSON Lines client files (docs/runtime.md, "Data"), parsed with
// nlohmann::json: one record per line, either an object whose keys name
// the record's fields (a tensor field as a possibly nested array,
// row-major; a nested struct as a nested object or `outer_inner` keys;
// other keys are ignored, whatever their values) or an array of the
// flattened record's values in declaration order.
#include "TextInput.h"

#include <nlohmann/json.hpp>

#include <set>

namespace fedrt {

namespace {

// Keys keep their order: a bare record (seq<f32>) binds to the first.
using json = nlohmann::ordered_json;

// The value a leaf binds to in an object: its key, or a nested object's
// (`p_a` is key "p_a", or "a" inside "p").
const json *find(const json &object, const std::string &name) {
  if (auto it = object.find(name); it != object.end())
    return &*it;
  for (size_t cut = name.find('_'); cut != std::string::npos;
       cut = name.find('_', cut + 1)) {
    auto it = object.find(name.substr(0, cut));
    if (it != object.end() && it->is_object())
      if (const json *inner = find(*it, name.substr(cut + 1)))
        return inner;
  }
  return nullptr;
}

// A scalar's text, for messages.
std::string shown(const json &v) {
  return v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump();
}

// Writes one scalar of `leaf` (element e) at `out`; an error message or "".
std::string store(const json &v, Element e, unsigned char *out) {
  if (elementKind(e) == ElementKind::Bool) {
    if (v.is_boolean()) {
      *out = v.get<bool>() ? 1 : 0;
      return "";
    }
  } else if (v.is_number_integer() || v.is_number_float()) {
    // The number's own text, through the one grammar of data cells.
    if (detail::parseValue(v.dump(), e, out))
      return "";
  }
  return std::string("expected ") + elementName(e) + ", found " + shown(v);
}

// Flattens a (possibly nested) array row-major into `out`.
void flatten(const json &v, std::vector<const json *> &out, int depth) {
  if (v.is_array() && depth < 64) {
    for (const json &x : v)
      flatten(x, out, depth + 1);
    return;
  }
  out.push_back(&v);
}

class JsonLinesReader {
public:
  JsonLinesReader(const std::string &path, const RecordLayout &layout,
                  Columns &out)
      : path_(path), layout_(layout), out_(out) {
    out_ = Columns{};
    out_.columns.resize(layout.leaves.size());
  }

  absl::Status line(std::string_view text, int64_t number) {
    where_ = path_ + ":" + std::to_string(number) + ":";
    json record;
    std::string duplicate;
    if (absl::Status s = parse(text, record); !s.ok())
      return s;
    std::vector<std::vector<const json *>> values(layout_.leaves.size());
    if (record.is_array()) {
      std::vector<const json *> all;
      flatten(record, all, 0);
      if (static_cast<int64_t>(all.size()) != layout_.width())
        return fail(" expected " + std::to_string(layout_.width()) +
                    " values, found " + std::to_string(all.size()));
      size_t next = 0;
      for (size_t j = 0; j < layout_.leaves.size(); ++j)
        for (int64_t k = 0; k < layout_.leaves[j].size; ++k)
          values[j].push_back(all[next++]);
    } else if (record.is_object()) {
      for (size_t j = 0; j < layout_.leaves.size(); ++j) {
        const Leaf &leaf = layout_.leaves[j];
        const json *v = leaf.name.empty()
                            ? (record.empty() ? nullptr : &record.front())
                            : find(record, leaf.name);
        if (!v)
          return fail(" missing field '" + leaf.name + "'");
        flatten(*v, values[j], 0);
        if (static_cast<int64_t>(values[j].size()) != leaf.size)
          return fail(" expected " + std::to_string(leaf.size) +
                      " values for field '" + leaf.name + "', found " +
                      std::to_string(values[j].size()));
      }
    } else {
      return fail(" expected an object or an array, found " + record.dump());
    }
    return store(values);
  }

private:
  absl::Status fail(const std::string &why) const {
    return absl::InvalidArgumentError(where_ + why);
  }

  // Parses a line, refusing repeated keys (which JSON leaves undefined).
  absl::Status parse(std::string_view text, json &out) {
    std::vector<std::set<std::string>> keys;
    std::string repeated;
    auto watch = [&](int, json::parse_event_t event, json &parsed) {
      if (event == json::parse_event_t::object_start)
        keys.emplace_back();
      else if (event == json::parse_event_t::object_end && !keys.empty())
        keys.pop_back();
      else if (event == json::parse_event_t::key && !keys.empty() &&
               !keys.back().insert(parsed.get<std::string>()).second &&
               repeated.empty())
        repeated = parsed.get<std::string>();
      return true;
    };
    try {
      out = json::parse(text, watch);
    } catch (const json::parse_error &e) {
      std::string what = e.what();
      size_t at = what.find("syntax error");
      return fail(std::to_string(e.byte) + ": invalid JSON: " +
                  (at == std::string::npos ? what : what.substr(at)));
    } catch (const json::exception &e) {
      // A number beyond f64 ("1e999") is out_of_range, not a parse_error.
      std::string what = e.what();
      size_t at = what.find("] ");
      return fail(" invalid JSON: " +
                  (at == std::string::npos ? what : what.substr(at + 2)));
    }
    if (!repeated.empty())
      return fail(" duplicate key '" + repeated + "'");
    return absl::OkStatus();
  }

  absl::Status store(const std::vector<std::vector<const json *>> &values) {
    for (size_t j = 0; j < layout_.leaves.size(); ++j) {
      const Leaf &leaf = layout_.leaves[j];
      size_t size = elementSize(leaf.element);
      ByteColumn &column = out_.columns[j];
      size_t start = column.size();
      column.resize(start + static_cast<size_t>(leaf.size) * size);
      for (int64_t k = 0; k < leaf.size; ++k) {
        std::string error =
            fedrt::store(*values[j][static_cast<size_t>(k)], leaf.element,
                         column.data() + start + static_cast<size_t>(k) * size);
        if (!error.empty())
          return fail(" field '" + leaf.name + "'" +
                      (leaf.tensor ? " element " + std::to_string(k) : "") +
                      ": " + error);
      }
    }
    ++out_.records;
    return absl::OkStatus();
  }

  const std::string &path_;
  const RecordLayout &layout_;
  Columns &out_;
  std::string where_;
};

} // namespace

absl::Status loadJsonLines(const std::string &path, const RecordLayout &layout,
                           Columns &out) {
  absl::StatusOr<FileBytes> text = detail::readText(path);
  if (!text.ok())
    return text.status();
  JsonLinesReader reader(path, layout, out);
  int64_t number = 0;
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t end = rest.find_first_of("\r\n");
    std::string_view line = rest.substr(0, end);
    ++number;
    if (end == std::string_view::npos)
      rest = {};
    else
      rest.remove_prefix(end + (rest.substr(end, 2) == "\r\n" ? 2 : 1));
    if (line.find_first_not_of(" \t") == std::string_view::npos)
      continue;
    if (absl::Status s = reader.line(line, number); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

} // namespace fedrt
