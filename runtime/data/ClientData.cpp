// Client datasets from directories, single files and partitions.
#include "fedrt/ClientData.h"
#include "fedrt/Partition.h"
#include "fedrt/SplitMix.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <functional>

namespace fedrt {

namespace {

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

bool loadFile(const std::string &path, const RecordLayout &layout, Columns &out,
              std::string &error) {
  if (endsWith(path, ".jsonl") || endsWith(path, ".jsonl.gz") ||
      endsWith(path, ".ndjson"))
    return loadJsonLines(path, layout, out, error);
  return loadCsv(path, layout, out, error);
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

bool loadClients(const TypeDesc &type, const DataSource &source,
                 ClientDataset &out, std::string &error) {
  out = ClientDataset{};
  out.type = type;
  out.record = type.kind == TypeDesc::Kind::Seq ? type.children[0] : type;
  out.layout = recordLayout(out.record);
  bool single = type.kind != TypeDesc::Kind::Seq;
  if (source.path.rfind("synthetic:", 0) == 0) {
    std::string records = source.path.substr(10);
    if (records.empty() || records.size() > 8 ||
        records.find_first_not_of("0123456789") != std::string::npos ||
        source.clients < 1) {
      error = "--data synthetic:R needs a record count R (0 to 99999999) "
              "and --clients N";
      return false;
    }
    out.syntheticClients = source.clients;
    out.syntheticRecords = std::stoll(records);
    out.syntheticSeed = source.seed;
    return true;
  }
  std::error_code ec;
  if (fs::is_directory(source.path, ec)) {
    if (!source.partition.empty()) {
      error = source.path + ": --partition splits one file, not a directory";
      return false;
    }
    std::vector<std::string> files;
    for (const auto &entry : fs::directory_iterator(source.path, ec))
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.')
        files.push_back(entry.path().string());
    if (ec) {
      error = source.path + ": " + ec.message();
      return false;
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      error = source.path + ": no client files in the directory";
      return false;
    }
    for (const std::string &file : files) {
      out.clients.emplace_back();
      if (!loadFile(file, out.layout, out.clients.back(), error))
        return false;
      out.names.push_back(fs::path(file).filename().string());
    }
  } else {
    if (!fs::exists(source.path, ec)) {
      error = source.path + ": no such file or directory";
      return false;
    }
    Columns all;
    if (!loadFile(source.path, out.layout, all, error))
      return false;
    if (source.partition.empty()) {
      out.clients.push_back(std::move(all));
      out.names.push_back(fs::path(source.path).filename().string());
    } else {
      PartitionSpec spec;
      if (!parsePartition(source.partition, spec, error))
        return false;
      if (spec.kind != PartitionSpec::Kind::By && source.clients < 1) {
        error =
            "--partition " + source.partition + " needs --clients N (N >= 1)";
        return false;
      }
      Assignment parts;
      auto labels = [&](std::vector<int64_t> &values) {
        int leaf = labelLeaf(out.layout);
        if (leaf < 0) {
          error = "--partition " + source.partition +
                  " needs an integer label field ('y' or 'label') in " +
                  out.record.str();
          return false;
        }
        for (int64_t r = 0; r < all.records; ++r)
          values.push_back(
              scalarAt(all, out.layout.leaves[size_t(leaf)], size_t(leaf), r));
        return true;
      };
      switch (spec.kind) {
      case PartitionSpec::Kind::Iid:
        parts = partitionIid(all.records, source.clients, source.seed);
        break;
      case PartitionSpec::Kind::Dirichlet: {
        std::vector<int64_t> values;
        if (!labels(values))
          return false;
        parts =
            partitionDirichlet(values, source.clients, spec.alpha, source.seed);
        break;
      }
      case PartitionSpec::Kind::Shards: {
        std::vector<int64_t> values;
        if (!labels(values))
          return false;
        parts =
            partitionShards(values, source.clients, spec.shards, source.seed);
        break;
      }
      case PartitionSpec::Kind::By: {
        size_t column = out.layout.leaves.size();
        for (size_t j = 0; j < out.layout.leaves.size(); ++j)
          if (out.layout.leaves[j].name == spec.column &&
              !out.layout.leaves[j].tensor)
            column = j;
        if (column == out.layout.leaves.size()) {
          error = "--partition by:" + spec.column +
                  ": the record has no scalar field '" + spec.column + "'";
          return false;
        }
        std::vector<std::string> keys;
        for (int64_t r = 0; r < all.records; ++r)
          keys.push_back(keyAt(all, out.layout.leaves[column], column, r));
        parts = partitionBy(keys);
        break;
      }
      }
      out.sourceRecords = parts;
      for (size_t c = 0; c < parts.size(); ++c) {
        out.clients.push_back(gather(all, out.layout, parts[c]));
        out.names.push_back("client " + std::to_string(c));
      }
    }
  }
  if (single)
    for (size_t c = 0; c < out.clients.size(); ++c)
      if (out.clients[c].records != 1) {
        error = out.names[c] + ": a client value of type " + type.str() +
                " is one record, found " +
                std::to_string(out.clients[c].records);
        return false;
      }
  return true;
}

} // namespace fedrt
