// The command line of a compiled program (docs/runtime.md), internal to
// runtime/cli.
#pragma once

#include "fedrt/Plan.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace fedrt::cli {

struct Options {
  std::string command = "simulate"; // simulate | describe
  std::vector<std::string> data;    // PATH, or NAME=PATH per client input
  std::string partition;
  int clients = 0;
  std::string evalData;
  int64_t rounds = 10;
  int64_t clientsPerRound = 10; // 0: every client
  bool clientsPerRoundGiven = false; // on the command line, not the default
  uint64_t seed = 0;
  int threads = 0; // 0: the machine's cores
  int64_t evalEvery = 0;
  std::string metrics;
  std::string checkpoint;
  bool resume = false;
  bool forceResume = false;
  std::string progress = "auto"; // auto | always | never
  bool timing = true;            // wall_ms in metrics
  bool printState = false;       // the final state as JSON on stdout
  std::string dumpPartition;     // clients' records and cohorts as JSON
  bool verbose = false;          // per-round execution details on stderr
};

// A CLI11 check for an integer in [lo, hi] that says which was found.
CLI::Validator integerIn(int64_t lo, int64_t hi);
// The flags `simulate` takes (and `serve`, which runs the same rounds).
void addRunOptions(CLI::App &app, Options &o);

// Prints "PROGRAM: error: MESSAGE" on stderr.
void reportError(const std::string &message);

int describe(const PlanTable &plan);
int runMain(const PlanTable &plan, const Options &options);
int runProcess(const PlanTable &plan, const Options &options);

} // namespace fedrt::cli
