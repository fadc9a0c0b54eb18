// Fuzzes the client-data loaders: any bytes, read as a CSV, as a JSON
// Lines file, as the array file (IDX, .npy, .npz) of every field of a record
// with a tensor, a nested struct and every element type, and as an .npz
// state (--init-state), must load or fail with a message, never crash or
// hang.
#include "fedrt/Data.h"
#include "fedrt/Types.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path =
      "/tmp/fedrt-data-fuzz-" + std::to_string(::getpid());
  static fedrt::RecordLayout layout = fedrt::recordLayout(
      *fedrt::parseType("R{x:f32[2,2],p:P{a:f64,b:i64},y:i32,ok:bool}"));
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  fedrt::Columns columns;
  std::vector<std::string> unbound;
  (void)fedrt::loadCsv(path, layout, columns, &unbound);
  (void)fedrt::loadJsonLines(path, layout, columns);
  std::vector<fedrt::FieldBinding> arrays;
  for (const fedrt::Leaf &leaf : layout.leaves)
    arrays.push_back({leaf.name, path});
  (void)fedrt::loadArrays(arrays, layout, columns);
  // As an .npz archive: fields by name, and one array named explicitly.
  (void)fedrt::loadNpz(path, layout, columns, &unbound);
  arrays.front().path = path + ":x";
  (void)fedrt::loadArrays(arrays, layout, columns);
  // As a state for --init-state .npz (a nested struct, a scalar leaf).
  static const fedrt::TypeDesc state =
      *fedrt::parseType("S{x:M{w:f32[2,2],b:f32},n:i64,t:(f64,u8[3])}");
  (void)fedrt::valueFromNpz(state, path);
  (void)fedrt::parseType(
      std::string_view(reinterpret_cast<const char *>(data), size));
  return 0;
}
