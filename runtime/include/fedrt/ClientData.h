// The clients of one client-data input of a computation: a directory with
// one file per client, or one file split by a partition (docs/runtime.md).
#pragma once

#include "fedrt/Data.h"
#include "fedrt/Plan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fedrt {

struct ClientDataset {
  TypeDesc type;                  // seq<R>, or R for one record per client
  TypeDesc record;                // R
  RecordLayout layout;            // of R
  std::vector<std::string> names; // per client: its file's name, or "client N"
  std::vector<std::string> paths; // per client file: its path (for errors)
  std::vector<Columns> clients;
  // With a partition: client i's records' line order in the source file
  // (0-based data records), for --dump-partition.
  std::vector<std::vector<int64_t>> sourceRecords;
  // A synthetic dataset (`--data synthetic:R`) holds no records: client i's
  // R records are generated when it runs, from (seed, i) — memory does not
  // grow with the number of clients.
  int64_t syntheticClients = 0, syntheticRecords = 0;
  uint64_t syntheticSeed = 0;

  size_t size() const;
  std::string name(size_t i) const;
  bool empty(size_t i) const; // holds no records
  // FNV-1a of every client's records and names, in order (a checkpoint
  // records it, so a resumed run refuses other data).
  uint64_t fingerprint() const;
  // Appends client i's slots (abi.h): a seq's record count and column
  // pointers, or the single record's leaves. A synthetic client's records
  // are generated into `scratch`, which must outlive the slots' use.
  void slots(size_t i, std::vector<uint64_t> &out,
             Columns *scratch = nullptr) const;
};

struct DataSource {
  // A directory, a file (with `partition`), or synthetic:R (with
  // `clients`): R uniform records per client, floats in [0, 1), integers
  // in [0, 10).
  std::string path;
  std::string partition; // empty for a directory; iid|dirichlet:A|...
  int clients = 0;       // --clients for a partition
  uint64_t seed = 0;     // for the partition
};

// Loads `type`'s clients. A file without a partition is one client. In a
// directory, client files are those isClientFile() accepts, one client
// each, sorted by name; `notes` (if given) gets what was ignored (other
// files, columns no field binds).
absl::Status loadClients(const TypeDesc &type, const DataSource &source,
                         ClientDataset &out,
                         std::vector<std::string> *notes = nullptr);

// Loads one file by its extension (.jsonl/.ndjson[.gz] JSON Lines, else
// CSV).
absl::Status loadFile(const std::string &path, const RecordLayout &layout,
                      Columns &out,
                      std::vector<std::string> *unbound = nullptr);

// Whether a directory entry named `name` is a client file: a data
// extension (.csv, .jsonl, .ndjson, each optionally .gz) and not hidden.
bool isClientFile(const std::string &name);

} // namespace fedrt
