// NumPy .npz archives through libzip (docs/runtime.md, "Binary arrays").
#include "NpzArchive.h"

#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace fedrt::detail {

void NpzArchive::Close::operator()(zip *z) const { zip_discard(z); }

bool NpzArchive::looksLike(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return false;
  char magic[4] = {};
  size_t n = std::fread(magic, 1, sizeof magic, f);
  std::fclose(f);
  return n == 4 && (std::memcmp(magic, "PK\x03\x04", 4) == 0 ||
                    std::memcmp(magic, "PK\x05\x06", 4) == 0);
}

absl::StatusOr<NpzArchive> NpzArchive::open(const std::string &path) {
  int code = 0;
  zip *z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!z) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (code == ZIP_ER_OPEN || code == ZIP_ER_NOENT)
      return absl::NotFoundError(path + ": cannot open: " + why);
    return absl::InvalidArgumentError(path +
                                      ": not a readable .npz (zip) "
                                      "archive: " +
                                      why);
  }
  NpzArchive a;
  a.path_ = path;
  a.zip_.reset(z);
  zip_int64_t entries = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char *name = zip_get_name(z, static_cast<zip_uint64_t>(i), 0);
    std::string s = name ? name : "";
    if (s.size() > 4 && s.compare(s.size() - 4, 4, ".npy") == 0)
      a.arrays_.push_back(s.substr(0, s.size() - 4));
  }
  return a;
}

absl::StatusOr<FileBytes> NpzArchive::read(const std::string &name) const {
  std::string where = path_ + ":" + name;
  zip_int64_t index =
      zip_name_locate(zip_.get(), (name + ".npy").c_str(), ZIP_FL_ENC_RAW);
  if (index < 0) {
    std::string list;
    for (const std::string &a : arrays_)
      list += (list.empty() ? "" : ", ") + a;
    return absl::NotFoundError(path_ + ": no array '" + name + "' (it holds " +
                               (list.empty() ? "none" : list) + ")");
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(zip_.get(), static_cast<zip_uint64_t>(index), 0, &st) !=
          0 ||
      !(st.valid & ZIP_STAT_SIZE))
    return absl::DataLossError(where + ": the archive's entry is unreadable");
  zip_file_t *f =
      zip_fopen_index(zip_.get(), static_cast<zip_uint64_t>(index), 0);
  if (!f)
    return absl::InvalidArgumentError(
        where + ": cannot read the entry: " + zip_strerror(zip_.get()));
  // Read in place, grown as the data comes. The directory's size is
  // believed up to deflate's largest ratio over the compressed size and
  // 256 MiB, so a forged one costs at most that much zeroed memory; libzip
  // checks the CRC when the entry has been read to its end.
  zip_uint64_t guess = std::min<zip_uint64_t>(st.size, 1u << 28);
  if (st.valid & ZIP_STAT_COMP_SIZE)
    guess = std::min<zip_uint64_t>(guess, st.comp_size * 1032 + 64);
  FileBytes bytes(static_cast<size_t>(guess) + 1, '\0');
  size_t used = 0;
  for (;;) {
    if (used == bytes.size())
      bytes.resize(2 * bytes.size());
    zip_int64_t n = zip_fread(f, bytes.data() + used,
                              std::min<size_t>(bytes.size() - used, 1u << 30));
    if (n < 0) {
      std::string message = where + ": damaged entry: ";
      message += zip_file_strerror(f);
      zip_fclose(f);
      return absl::DataLossError(message);
    }
    if (n == 0)
      break;
    used += static_cast<size_t>(n);
    if (used > st.size)
      break;
  }
  bytes.resize(used);
  zip_fclose(f);
  if (bytes.size() != st.size)
    return absl::DataLossError(
        where + ": the entry holds " + std::to_string(bytes.size()) +
        " bytes, its directory says " + std::to_string(st.size));
  return bytes;
}

} // namespace fedrt::detail
