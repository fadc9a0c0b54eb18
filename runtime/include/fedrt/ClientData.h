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
  std::vector<std::string> names; // per client: its file, or "client N"
  std::vector<Columns> clients;

  size_t size() const { return clients.size(); }
  // Appends client i's slots (abi.h): a seq's record count and column
  // pointers, or the single record's leaves.
  void slots(size_t i, std::vector<uint64_t> &out) const;
};

struct DataSource {
  std::string path;      // a directory, or a file with `partition`
  std::string partition; // empty for a directory; iid|dirichlet:A|...
  int clients = 0;       // --clients for a partition
  uint64_t seed = 0;     // for the partition
};

// Loads `type`'s clients. A file without a partition is one client.
bool loadClients(const TypeDesc &type, const DataSource &source,
                 ClientDataset &out, std::string &error);

// Loads one file by its extension (.jsonl[.gz] JSON Lines, else CSV).
bool loadFile(const std::string &path, const RecordLayout &layout, Columns &out,
              std::string &error);

} // namespace fedrt
