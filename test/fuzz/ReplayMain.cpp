// A main for the fuzz targets in ordinary (non-libFuzzer) builds: replays
// every file of the given files and directories through
// LLVMFuzzerTestOneInput, so `make test` runs each fuzzer's regression
// corpus with any compiler. A crash or sanitizer report names the input
// printed last.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Set by this main: targets may then do work too slow for fuzzing (the
// frontend target also optimizes and writes machine code).
bool fedcFuzzReplay = false;

int main(int argc, char **argv) {
  namespace fs = std::filesystem;
  fedcFuzzReplay = true;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    fs::path p = argv[i];
    if (fs::is_directory(p)) {
      for (const auto &e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file())
          inputs.push_back(e.path());
    } else {
      inputs.push_back(p);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path &p : inputs) {
    std::ifstream in(p, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replaying %s\n", p.c_str());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()),
                           bytes.size());
  }
  std::printf("replayed %zu inputs\n", inputs.size());
  return 0;
}
