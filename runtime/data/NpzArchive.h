// Internal to runtime/data: NumPy's .npz archives (numpy.savez and
// numpy.savez_compressed: a zip file holding one NAME.npy per array),
// read with libzip.
#pragma once

#include "fedrt/Memory.h"

#include "absl/status/statusor.h"

#include <memory>
#include <string>
#include <vector>

struct zip;

namespace fedrt::detail {

class NpzArchive {
public:
  // Whether `path` starts like a zip file (local header or an empty
  // archive's end record): the content, not the name, tells an .npz.
  static bool looksLike(const std::string &path);

  // Opens and checks the archive's directory (libzip's consistency
  // checks). NotFound when the file cannot be opened, InvalidArgument
  // (naming the file) when it is not a readable zip.
  static absl::StatusOr<NpzArchive> open(const std::string &path);

  // The arrays' names, in archive order (entries NAME.npy; other entries
  // are not arrays and are left out).
  const std::vector<std::string> &arrays() const { return arrays_; }

  // The .npy bytes of array `name`. NotFound naming the arrays there are
  // when it has none such; DataLoss when the entry does not decompress to
  // its recorded size and checksum (a damaged or truncated file).
  absl::StatusOr<FileBytes> read(const std::string &name) const;

private:
  struct Close {
    void operator()(zip *z) const;
  };
  std::string path_;
  std::unique_ptr<zip, Close> zip_;
  std::vector<std::string> arrays_;
};

} // namespace fedrt::detail
