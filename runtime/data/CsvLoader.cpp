// CSV client files (docs/runtime.md, "Data"), parsed with libcsv (RFC 4180:
// quoted fields with commas, quotes and line breaks). Lines end in LF,
// CRLF or CR; a UTF-8 byte-order mark is skipped; blank lines are skipped
// but counted, so errors name the line a text editor shows.
#include "TextInput.h"

#include <csv.h>

#include <map>
#include <set>

namespace fedrt {

int64_t RecordLayout::width() const {
  int64_t n = 0;
  for (const Leaf &l : leaves)
    n += l.size;
  return n;
}

namespace {

// Where a field of a data line goes: value k of leaf `leaf`, at byte
// `offset` of each record's `stride` bytes in that leaf's column (worked
// out once when the header binds, not per cell).
struct Target {
  size_t leaf;
  Element element;
  size_t offset, stride;
};

// Receives libcsv's fields and line ends; binds the header, then parses
// every data field straight into its column.
class CsvReader {
public:
  CsvReader(const std::string &path, const RecordLayout &layout, Columns &out)
      : path_(path), layout_(layout), out_(out) {
    out_ = Columns{};
    out_.columns.resize(layout.leaves.size());
  }

  static void onField(void *data, size_t len, void *self) {
    static_cast<CsvReader *>(self)->field(
        std::string_view(static_cast<const char *>(data), len));
  }
  static void onLineEnd(int, void *self) {
    static_cast<CsvReader *>(self)->lineEnd();
  }

  absl::Status status() const { return status_; }
  const std::vector<std::string> &unbound() const { return unbound_; }

private:
  std::string where(size_t field = 0) const {
    return path_ + ":" + std::to_string(recordLine_) +
           (field ? ":" + std::to_string(field) : "") + ": ";
  }
  void fail(const std::string &message) {
    if (status_.ok())
      status_ = absl::InvalidArgumentError(message);
  }

  static bool blank(std::string_view text) {
    return text.find_first_not_of(" \t") == std::string_view::npos;
  }

  void field(std::string_view text) {
    if (!status_.ok())
      return;
    size_t index = fields_++;
    lines_ += std::count(text.begin(), text.end(), '\n'); // quoted breaks
    if (!bound_) {
      texts_.emplace_back(text);
    } else if (index == 0) {
      first_.assign(text); // a blank line, or the first value: seen later
    } else {
      if (index == 1) {
        startRecord();
        store(0, first_);
      }
      store(index, text);
    }
  }

  void lineEnd() {
    size_t fields = fields_;
    fields_ = 0;
    ++lines_; // the line end
    if (status_.ok())
      finishLine(fields);
    recordLine_ = lines_;
    texts_.clear();
  }

  void finishLine(size_t fields) {
    if (!bound_) {
      if (fields == 0 || (fields == 1 && blank(texts_[0])))
        return;
      if (bind(fields)) // a header
        return;
      startRecord(); // the first line was data
      for (size_t i = 0; i < texts_.size(); ++i)
        store(i, texts_[i]);
    } else {
      if (fields == 0 || (fields == 1 && blank(first_)))
        return;
      if (fields == 1) {
        startRecord();
        store(0, first_);
      }
    }
    if (fields != expectedFields_)
      fail(where() + "expected " + std::to_string(expectedFields_) +
           " values, found " + std::to_string(fields));
    ++out_.records;
  }

  // Parses field `index` of the current record into its column(s).
  void store(size_t index, std::string_view text) {
    if (index >= targets_.size())
      return; // counted; a wrong number of fields is reported at the end
    for (const Target &t : targets_[index]) {
      unsigned char *at = out_.columns[t.leaf].data() +
                          static_cast<size_t>(out_.records) * t.stride +
                          t.offset;
      if (!detail::parseValue(text, t.element, at)) {
        const Leaf &leaf = layout_.leaves[t.leaf];
        fail(where(index + 1) + "expected " + elementName(leaf.element) +
             (leaf.name.empty() ? std::string()
                                : " for field '" + leaf.name + "'") +
             ", found '" + std::string(text) + "'");
      }
    }
  }

  void startRecord() {
    for (size_t j = 0; j < layout_.leaves.size(); ++j) {
      const Leaf &leaf = layout_.leaves[j];
      out_.columns[j].resize(static_cast<size_t>(out_.records + 1) *
                             static_cast<size_t>(leaf.size) *
                             elementSize(leaf.element));
    }
  }

  // The first line: a header (any field not a number) binds columns by
  // name; without one, fields bind in declaration order. True for a
  // header; false for a data line (then it is parsed as one).
  bool bind(size_t fields) {
    bound_ = true;
    const std::vector<std::string> &header = texts_;
    size_t other = header[0].find_first_of(";\t");
    if (fields == 1 && layout_.width() > 1 && other != std::string::npos) {
      fail(where() + "fields are separated by '" +
           (header[0][other] == '\t' ? std::string("\\t") : std::string(";")) +
           "'; CSV files here are comma-separated (RFC 4180)");
      return true;
    }
    bool isHeader = false;
    for (const std::string &f : header)
      isHeader = isHeader || !detail::isNumber(f);
    std::vector<size_t> source; // per value of a record, its field
    if (!isHeader) {
      expectedFields_ = static_cast<size_t>(layout_.width());
      for (size_t i = 0; i < expectedFields_; ++i)
        source.push_back(i);
      target(source);
      return false;
    }
    expectedFields_ = fields;
    std::map<std::string, size_t> byName;
    for (size_t i = 0; i < fields; ++i)
      if (!byName.emplace(header[i], i).second) {
        fail(where(i + 1) + "column '" + header[i] +
             "' appears twice in the header");
        return true;
      }
    std::set<size_t> used;
    for (const Leaf &leaf : layout_.leaves) {
      for (int64_t k = 0; k < leaf.size; ++k) {
        if (leaf.name.empty()) { // a bare record: the first columns
          if (static_cast<size_t>(k) >= fields) {
            fail(where() + "expected at least " + std::to_string(leaf.size) +
                 " columns");
            return true;
          }
          source.push_back(static_cast<size_t>(k));
          used.insert(static_cast<size_t>(k));
          continue;
        }
        std::string column =
            leaf.tensor ? leaf.name + std::to_string(k) : leaf.name;
        auto it = byName.find(column);
        if (it == byName.end()) {
          fail(where() + "missing column '" + column + "' for field '" +
               leaf.name + "'");
          return true;
        }
        source.push_back(it->second);
        used.insert(it->second);
      }
    }
    for (size_t i = 0; i < fields; ++i)
      if (!used.count(i))
        unbound_.push_back(header[i]);
    target(source);
    return true;
  }

  void target(const std::vector<size_t> &source) {
    size_t value = 0;
    for (size_t j = 0; j < layout_.leaves.size(); ++j)
      for (int64_t k = 0; k < layout_.leaves[j].size; ++k, ++value) {
        size_t field = source[value];
        if (targets_.size() <= field)
          targets_.resize(field + 1);
        const Leaf &leaf = layout_.leaves[j];
        size_t size = elementSize(leaf.element);
        targets_[field].push_back({j, leaf.element,
                                   static_cast<size_t>(k) * size,
                                   static_cast<size_t>(leaf.size) * size});
      }
  }

  const std::string &path_;
  const RecordLayout &layout_;
  Columns &out_;
  absl::Status status_;
  bool bound_ = false;
  std::string first_; // the current line's first field
  size_t fields_ = 0, expectedFields_ = 0;
  int64_t lines_ = 1, recordLine_ = 1; // 1-based
  std::vector<std::string> texts_;     // header fields, or a blank line's
  std::vector<std::vector<Target>> targets_;
  std::vector<std::string> unbound_;
};

} // namespace

absl::Status loadCsv(const std::string &path, const RecordLayout &layout,
                     Columns &out, std::vector<std::string> *unboundColumns) {
  absl::StatusOr<FileBytes> text = detail::readText(path);
  if (!text.ok())
    return text.status();
  // One line end: CRLF and CR become LF (cells are numbers and names).
  FileBytes &s = *text;
  size_t w = 0;
  for (size_t r = 0; r < s.size(); ++r) {
    if (s[r] == '\r') {
      s[w++] = '\n';
      if (r + 1 < s.size() && s[r + 1] == '\n')
        ++r;
    } else {
      s[w++] = s[r];
    }
  }
  s.resize(w);
  csv_parser parser;
  if (csv_init(&parser, CSV_REPALL_NL) != 0)
    return absl::ResourceExhaustedError("out of memory");
  CsvReader reader(path, layout, out);
  csv_parse(&parser, s.data(), s.size(), CsvReader::onField,
            CsvReader::onLineEnd, &reader);
  csv_fini(&parser, CsvReader::onField, CsvReader::onLineEnd, &reader);
  csv_free(&parser);
  if (unboundColumns)
    *unboundColumns = reader.unbound();
  return reader.status();
}

} // namespace fedrt
