// Checkpoints of a process's server state, written atomically after every
// round (temporary file, fsync, rename, fsync of the directory) with the
// identity of the run that wrote them: the program's plan fingerprint and
// the run's configuration, so a crash leaves the previous checkpoint intact,
// another program's checkpoint is refused, and a resume with other data or
// settings is refused naming what differs.
#pragma once

#include "fedrt/Types.h"
#include "fedrt/Value.h"

#include "absl/status/statusor.h"

#include <cstdint>
#include <string>

namespace fedrt {

// What a resumed run must share with the run that wrote the checkpoint.
struct RunIdentity {
  uint64_t fingerprint = 0; // the program's (PlanTable::fingerprint)
  uint64_t seed = 0;
  uint64_t data = 0;      // ClientDataset::fingerprint of the training data
  std::string partition;  // --partition (empty: none)
  int64_t population = 0; // clients the data holds
  int64_t clientsPerRound = 0; // --clients-per-round (0: every client)
};

struct Checkpoint {
  RunIdentity run;
  int64_t round = 0; // rounds completed
  HostValue state;
};

// DIR/state.ckpt
std::string checkpointPath(const std::string &dir);

absl::Status writeCheckpoint(const std::string &dir, const Checkpoint &c);

// Writes `data` to `path` in `dir` so that a crash leaves either the old
// file or the new one: a temporary file, fsync, rename, fsync of `dir`.
// Fault points (fedrt/Faults.h) `writeFault` half-way through the write
// and `renameFault` before the rename. InternalError naming the file.
absl::Status writeFileDurably(const std::string &dir, const std::string &path,
                              const std::string &data, const char *writeFault,
                              const char *renameFault);
// Reads and validates a checkpoint (magic, checksum, round, that program
// `fingerprint` wrote it, the state's layout against `state`); NotFound
// when there is none.
absl::StatusOr<Checkpoint> readCheckpoint(const std::string &dir,
                                          const TypeDesc &state,
                                          uint64_t fingerprint);

// Whether a run may resume from a checkpoint: the program must match;
// every other item must too unless `force`, and then each difference is
// appended to `warnings`. FailedPrecondition names each differing item.
absl::Status checkResume(const RunIdentity &saved, const RunIdentity &now,
                         const std::string &dir, bool force,
                         std::vector<std::string> &warnings);

} // namespace fedrt
