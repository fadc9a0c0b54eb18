// Fault injection for tests: named points in the runtime where a test can
// make the process die as a crash would (SIGKILL), to prove that what was
// written before survives. Inert unless the environment variable
// FEDRT_FAULT names the point: `FEDRT_FAULT=checkpoint-rename:3` kills the
// process the third time it reaches "checkpoint-rename" (`:N` defaults to
// 1). Points are listed in docs/testing.md; a few (faultActive) make the
// process misbehave instead of dying.
#pragma once

namespace fedrt {

// Kills the process with SIGKILL if FEDRT_FAULT names `point` and this is
// its Nth hit; otherwise returns at once.
void faultPoint(const char *point);

// True if FEDRT_FAULT names `point` and this is its Nth hit: the caller
// then misbehaves as the point says (a worker corrupting a payload).
bool faultActive(const char *point);

// When FEDRT_FAULT names `point` (its Nth hit): says "fault: paused at
// POINT" on stderr and waits, up to 120 s, until the file named by
// FEDRT_FAULT_RELEASE exists — the process's other threads run on
// meanwhile (a test kills and restarts a worker between two rounds).
void faultPause(const char *point);

} // namespace fedrt
