// Checkpoints of a process's server state, written atomically after every
// round (temporary file, fsync, rename, fsync of the directory) with the
// program's plan fingerprint, so a crash leaves the previous checkpoint
// intact and another program's checkpoint is refused.
#pragma once

#include "fedrt/Plan.h"
#include "fedrt/Value.h"

#include <cstdint>
#include <string>

namespace fedrt {

struct Checkpoint {
  uint64_t fingerprint = 0; // PlanTable::fingerprint
  uint64_t seed = 0;
  int64_t round = 0; // rounds completed
  HostValue state;
};

// DIR/state.ckpt
std::string checkpointPath(const std::string &dir);

bool writeCheckpoint(const std::string &dir, const Checkpoint &c,
                     std::string &error);

// Reads and validates (magic, checksum, fingerprint, the state's layout).
bool readCheckpoint(const std::string &dir, const TypeDesc &state,
                    uint64_t fingerprint, Checkpoint &out, std::string &error);

} // namespace fedrt
