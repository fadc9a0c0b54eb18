// Client datasets from directories, single files and partitions.
#include "fedrt/ClientData.h"

#include "NpzArchive.h"
#include "fedrt/Hash.h"
#include "fedrt/Partition.h"
#include "fedrt/SplitMix.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

namespace fedrt {

namespace {

void flattenRecord(const TypeDesc &t, const std::string &name,
                   RecordLayout &out) {
  switch (t.kind) {
  case TypeDesc::Kind::Tensor:
    out.leaves.push_back(
        Leaf{name, t.element, t.elements(), !t.dims.empty(), t.dims});
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

RecordLayout recordLayout(const TypeDesc &record) {
  RecordLayout layout;
  flattenRecord(record, "", layout);
  return layout;
}

namespace fs = std::filesystem;

namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The records `indices` of `all`, in that order.
Columns gather(const Columns &all, const RecordLayout &layout,
               const std::vector<int64_t> &indices) {
  Columns out;
  out.records = static_cast<int64_t>(indices.size());
  out.columns.resize(layout.leaves.size());
  for (size_t j = 0; j < layout.leaves.size(); ++j) {
    size_t width = static_cast<size_t>(layout.leaves[j].size) *
                   elementSize(layout.leaves[j].element);
    out.columns[j].resize(width * indices.size());
    for (size_t r = 0; r < indices.size(); ++r)
      std::memcpy(out.columns[j].data() + r * width,
                  all.columns[j].data() +
                      static_cast<size_t>(indices[r]) * width,
                  width);
  }
  return out;
}

// The label a label-skew partition splits by: field `y` or `label`, else
// the last scalar integer field of the record.
int labelLeaf(const RecordLayout &layout) {
  int found = -1;
  for (size_t j = 0; j < layout.leaves.size(); ++j) {
    const Leaf &l = layout.leaves[j];
    bool integer = l.element == Element::I32 || l.element == Element::I64 ||
                   l.element == Element::Bool;
    if (l.tensor || !integer)
      continue;
    if (l.name == "y" || l.name == "label")
      return static_cast<int>(j);
    found = static_cast<int>(j);
  }
  return found;
}

int64_t scalarAt(const Columns &c, const Leaf &leaf, size_t column,
                 int64_t record) {
  const unsigned char *p =
      c.columns[column].data() +
      record * static_cast<int64_t>(elementSize(leaf.element));
  // Labels are integer fields; keys of floats go through keyAt.
  if (isFloat(leaf.element))
    return 0;
  return loadInteger(leaf.element, p);
  return 0;
}

// The value of a scalar field as an exact key (by:COLUMN): floats in their
// shortest round-trip form, so 0.2 and 0.7 stay distinct.
std::string keyAt(const Columns &c, const Leaf &leaf, size_t column,
                  int64_t record) {
  const unsigned char *p =
      c.columns[column].data() +
      record * static_cast<int64_t>(elementSize(leaf.element));
  char buf[64];
  std::to_chars_result r{};
  if (leaf.element == Element::F32) {
    float v;
    std::memcpy(&v, p, 4);
    r = std::to_chars(buf, buf + sizeof buf, v);
  } else if (leaf.element == Element::F64) {
    double v;
    std::memcpy(&v, p, 8);
    r = std::to_chars(buf, buf + sizeof buf, v);
  } else {
    return std::to_string(scalarAt(c, leaf, column, record));
  }
  return std::string(buf, r.ptr);
}

} // namespace

namespace {
bool isJsonLines(const std::string &path) {
  for (const char *ext : {".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"})
    if (endsWith(path, ext))
      return true;
  return false;
}
} // namespace

bool isClientFile(const std::string &name) {
  if (name.empty() || name[0] == '.')
    return false;
  for (const char *ext : {".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".ndjson",
                          ".ndjson.gz", ".npz"})
    if (endsWith(name, ext))
      return true;
  return false;
}

absl::Status loadFile(const std::string &path, const RecordLayout &layout,
                      Columns &out, std::vector<std::string> *unbound) {
  if (isJsonLines(path))
    return loadJsonLines(path, layout, out);
  if (detail::NpzArchive::looksLike(path))
    return loadNpz(path, layout, out, unbound);
  return loadCsv(path, layout, out, unbound);
}

uint64_t ClientDataset::fingerprint() const {
  uint64_t h = fnv1a(type.str());
  if (syntheticClients) {
    int64_t parts[3] = {syntheticClients, syntheticRecords,
                        static_cast<int64_t>(syntheticSeed)};
    return fnv1a(parts, sizeof parts, h);
  }
  for (size_t c = 0; c < clients.size(); ++c) {
    h = fnv1a(names[c], h);
    h = fnv1a(&clients[c].records, sizeof clients[c].records, h);
    for (const auto &column : clients[c].columns)
      h = fnv1a(column.data(), column.size(), h);
  }
  return h;
}

size_t ClientDataset::size() const {
  return syntheticClients ? static_cast<size_t>(syntheticClients)
                          : clients.size();
}

std::string ClientDataset::name(size_t i) const {
  return syntheticClients ? "synthetic client " + std::to_string(i) : names[i];
}

bool ClientDataset::empty(size_t i) const {
  return syntheticClients ? syntheticRecords == 0 : clients[i].records == 0;
}

namespace {

// Client `client`'s records: every value from a generator seeded by
// (seed, client), so any thread produces the same data.
void generate(const RecordLayout &layout, int64_t records, uint64_t seed,
              size_t client, Columns &out) {
  out.records = records;
  out.columns.resize(layout.leaves.size());
  uint64_t state = seed ^ (0x632be59bd9b4e019ull * (client + 1));
  for (size_t j = 0; j < layout.leaves.size(); ++j) {
    const Leaf &leaf = layout.leaves[j];
    int64_t n = records * leaf.size;
    out.columns[j].resize(static_cast<size_t>(n) * elementSize(leaf.element));
    unsigned char *p = out.columns[j].data();
    for (int64_t k = 0; k < n; ++k) {
      uint64_t r = splitmix64(state);
      double unit = static_cast<double>(r >> 11) * 0x1.0p-53;
      unsigned char *at = p + k * elementSize(leaf.element);
      if (leaf.element == Element::F32) {
        float v = static_cast<float>(unit);
        std::memcpy(at, &v, 4);
      } else if (leaf.element == Element::F64) {
        std::memcpy(at, &unit, 8);
      } else if (leaf.element == Element::Bool) {
        *at = static_cast<unsigned char>(r & 1);
      } else {
        storeInteger(static_cast<int64_t>(r % 10), leaf.element, at);
      }
    }
  }
}

} // namespace

void ClientDataset::slots(size_t i, std::vector<uint64_t> &out,
                          Columns *scratch) const {
  if (syntheticClients) {
    generate(layout, type.kind == TypeDesc::Kind::Seq ? syntheticRecords : 1,
             syntheticSeed, i, *scratch);
  }
  const Columns &c = syntheticClients ? *scratch : clients[i];
  if (type.kind == TypeDesc::Kind::Seq) {
    out.push_back(static_cast<uint64_t>(c.records));
    for (const auto &column : c.columns)
      out.push_back(reinterpret_cast<uint64_t>(column.data()));
    return;
  }
  // One record: scalars by value, tensors as pointers into their column
  // with the record type's static dims.
  std::vector<const TypeDesc *> tensors;
  std::function<void(const TypeDesc &)> walk = [&](const TypeDesc &t) {
    if (t.kind == TypeDesc::Kind::Tensor)
      tensors.push_back(&t);
    else
      for (const TypeDesc &child : t.children)
        walk(child);
  };
  walk(record);
  for (size_t j = 0; j < tensors.size(); ++j) {
    const TypeDesc &t = *tensors[j];
    if (t.dims.empty()) {
      uint64_t slot = 0;
      std::memcpy(&slot, c.columns[j].data(), elementSize(t.element));
      if (t.element == Element::I32)
        slot = static_cast<uint64_t>(static_cast<int64_t>(
            *reinterpret_cast<const int32_t *>(c.columns[j].data())));
      out.push_back(slot);
      continue;
    }
    out.push_back(reinterpret_cast<uint64_t>(c.columns[j].data()));
    for (int64_t d : t.dims)
      out.push_back(static_cast<uint64_t>(d));
  }
}

namespace {

absl::Status invalid(const std::string &why) {
  return absl::InvalidArgumentError(why);
}

// Notes about what a folder's files held that no field binds, once per set
// of columns.
void noteUnbound(const std::map<std::vector<std::string>, int> &unbound,
                 const TypeDesc &record, std::vector<std::string> *notes) {
  if (!notes)
    return;
  for (const auto &[columns, files] : unbound) {
    std::string list;
    for (const std::string &c : columns)
      list += (list.empty() ? "" : ", ") + c;
    bool arrays = std::all_of(columns.begin(), columns.end(), [](auto &c) {
      return c.size() > 4 && c.compare(c.size() - 4, 4, ".npy") == 0;
    });
    notes->push_back(
        std::string(arrays ? "arrays" : "columns") + " that no field of " +
        record.str() + " binds are ignored: " + list + " (in " +
        std::to_string(files) + " file" + (files == 1 ? "" : "s") + ")");
  }
}

absl::Status loadSynthetic(const DataSource &source, ClientDataset &out) {
  std::string records = source.path.substr(10);
  if (records.empty() || records.size() > 8 ||
      records.find_first_not_of("0123456789") != std::string::npos ||
      source.clients < 1)
    return invalid("--data synthetic:R needs a record count R (0 to 99999999) "
                   "and --clients N");
  out.syntheticClients = source.clients;
  out.syntheticRecords = std::stoll(records);
  out.syntheticSeed = source.seed;
  return absl::OkStatus();
}

absl::Status loadDirectory(const DataSource &source, ClientDataset &out,
                           std::vector<std::string> *notes) {
  std::error_code ec;
  std::vector<std::string> files, ignored;
  for (const auto &entry : fs::directory_iterator(source.path, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && isClientFile(name))
      files.push_back(entry.path().string());
    else if (!name.empty() && name[0] != '.')
      ignored.push_back(name);
  }
  if (ec)
    return invalid(source.path + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::sort(ignored.begin(), ignored.end());
  if (files.empty())
    return invalid(source.path +
                   ": no client files in the directory (client files end in "
                   ".csv, .jsonl or .ndjson, optionally .gz, or .npz)");
  if (notes && !ignored.empty()) {
    std::string list;
    for (size_t i = 0; i < ignored.size() && i < 5; ++i)
      list += (i ? ", " : "") + ignored[i];
    notes->push_back(std::to_string(ignored.size()) + " entr" +
                     (ignored.size() == 1 ? "y" : "ies") + " of " +
                     source.path + " are not client files and are ignored: " +
                     list + (ignored.size() > 5 ? ", ..." : ""));
  }
  std::map<std::vector<std::string>, int> unbound;
  for (const std::string &file : files) {
    out.clients.emplace_back();
    std::vector<std::string> extra;
    if (absl::Status s = loadFile(file, out.layout, out.clients.back(), &extra);
        !s.ok())
      return s;
    if (!extra.empty())
      ++unbound[extra];
    out.names.push_back(fs::path(file).filename().string());
    out.paths.push_back(file);
  }
  noteUnbound(unbound, out.record, notes);
  return absl::OkStatus();
}

// The label of every record, for label-skewed partitions.
absl::Status labelsOf(const Columns &all, const ClientDataset &out,
                      const std::string &spec, std::vector<int64_t> &values) {
  int leaf = labelLeaf(out.layout);
  if (leaf < 0)
    return invalid("--partition " + spec +
                   " needs an integer label field ('y' or 'label') in " +
                   out.record.str());
  for (int64_t r = 0; r < all.records; ++r)
    values.push_back(
        scalarAt(all, out.layout.leaves[size_t(leaf)], size_t(leaf), r));
  return absl::OkStatus();
}

absl::StatusOr<Assignment> split(const Columns &all, const ClientDataset &out,
                                 const DataSource &source) {
  absl::StatusOr<PartitionSpec> spec = parsePartition(source.partition);
  if (!spec.ok())
    return spec.status();
  if (spec->kind != PartitionSpec::Kind::By && source.clients < 1)
    return invalid("--partition " + source.partition +
                   " needs --clients N (N >= 1)");
  std::vector<int64_t> labels;
  switch (spec->kind) {
  case PartitionSpec::Kind::Iid:
    return partitionIid(all.records, source.clients, source.seed);
  case PartitionSpec::Kind::Dirichlet:
    if (absl::Status s = labelsOf(all, out, source.partition, labels); !s.ok())
      return s;
    return partitionDirichlet(labels, source.clients, spec->alpha, source.seed);
  case PartitionSpec::Kind::Shards:
    if (absl::Status s = labelsOf(all, out, source.partition, labels); !s.ok())
      return s;
    return partitionShards(labels, source.clients, spec->shards, source.seed);
  case PartitionSpec::Kind::By:
    break;
  }
  size_t column = out.layout.leaves.size();
  for (size_t j = 0; j < out.layout.leaves.size(); ++j)
    if (out.layout.leaves[j].name == spec->column &&
        !out.layout.leaves[j].tensor)
      column = j;
  if (column == out.layout.leaves.size())
    return invalid("--partition by:" + spec->column +
                   ": the record has no scalar field '" + spec->column + "'");
  std::vector<std::string> keys;
  for (int64_t r = 0; r < all.records; ++r)
    keys.push_back(keyAt(all, out.layout.leaves[column], column, r));
  return partitionBy(keys);
}

// One dataset (`all`, read from `source`) as one client, or split by
// --partition.
absl::Status keepOrSplit(Columns all, const DataSource &source,
                         const std::string &name, ClientDataset &out) {
  if (source.partition.empty()) {
    out.clients.push_back(std::move(all));
    out.names.push_back(name);
    out.paths.push_back(source.path);
    return absl::OkStatus();
  }
  absl::StatusOr<Assignment> parts = split(all, out, source);
  if (!parts.ok())
    return parts.status();
  out.sourceRecords = *parts;
  for (size_t c = 0; c < parts->size(); ++c) {
    out.clients.push_back(gather(all, out.layout, (*parts)[c]));
    out.names.push_back("client " + std::to_string(c));
  }
  return absl::OkStatus();
}

absl::Status loadOneFile(const DataSource &source, ClientDataset &out,
                         std::vector<std::string> *notes) {
  std::error_code ec;
  if (!fs::exists(source.path, ec))
    return invalid(source.path + ": no such file or directory");
  if (source.partition.empty() && source.clients > 0)
    return invalid("--clients " + std::to_string(source.clients) +
                   " needs --partition to split " + source.path +
                   " (one file without it is one client)");
  Columns all;
  std::vector<std::string> extra;
  if (absl::Status s = loadFile(source.path, out.layout, all, &extra); !s.ok())
    return s;
  if (!extra.empty())
    noteUnbound({{extra, 1}}, out.record, notes);
  return keepOrSplit(std::move(all), source,
                     fs::path(source.path).filename().string(), out);
}

// `--data x=images.idx.gz,y=labels.idx.gz`: one dataset from array files.
absl::Status loadBoundArrays(const DataSource &source,
                             const std::vector<FieldBinding> &bindings,
                             ClientDataset &out) {
  if (source.partition.empty() && source.clients > 0)
    return invalid("--clients " + std::to_string(source.clients) +
                   " needs --partition to split the arrays of --data (one "
                   "dataset without it is one client)");
  Columns all;
  if (absl::Status s = loadArrays(bindings, out.layout, all); !s.ok())
    return s;
  return keepOrSplit(std::move(all), source, "arrays", out);
}

} // namespace

absl::Status loadClients(const TypeDesc &type, const DataSource &source,
                         ClientDataset &out, std::vector<std::string> *notes) {
  out = ClientDataset{};
  out.type = type;
  out.record = type.kind == TypeDesc::Kind::Seq ? type.children[0] : type;
  out.layout = recordLayout(out.record);
  if (source.path.rfind("synthetic:", 0) == 0)
    return loadSynthetic(source, out);
  std::error_code ec;
  absl::StatusOr<std::vector<FieldBinding>> bindings =
      fs::exists(source.path, ec) ? std::vector<FieldBinding>{}
                                  : parseFieldBindings(source.path);
  if (!bindings.ok())
    return bindings.status();
  absl::Status s;
  if (!bindings->empty()) {
    s = loadBoundArrays(source, *bindings, out);
  } else if (fs::is_directory(source.path, ec)) {
    if (!source.partition.empty())
      return invalid(source.path +
                     ": --partition splits one file, not a directory");
    if (source.clients > 0)
      return invalid("--clients " + std::to_string(source.clients) +
                     " applies to --partition and synthetic data; " +
                     source.path + " holds one client per file");
    s = loadDirectory(source, out, notes);
  } else {
    s = loadOneFile(source, out, notes);
  }
  if (!s.ok())
    return s;
  if (type.kind != TypeDesc::Kind::Seq)
    for (size_t c = 0; c < out.clients.size(); ++c)
      if (out.clients[c].records != 1)
        return invalid((c < out.paths.size() ? out.paths[c] : out.names[c]) +
                       ": a client value of type " + type.str() +
                       " is one record, found " +
                       std::to_string(out.clients[c].records));
  return absl::OkStatus();
}

} // namespace fedrt
