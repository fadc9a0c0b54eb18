// Owned values and their slot, JSON and checkpoint forms (fedrt/Value.h).
#include "fedrt/Value.h"

#include "fedrt/Memory.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>

namespace fedrt {

namespace {

// Freed buffers of 1 MiB or more, by size, up to 1 GiB in all.
struct LargeBlockCache {
  std::mutex mutex;
  std::multimap<size_t, unsigned char *> blocks;
  size_t bytes = 0;
  static constexpr size_t kMinimum = size_t(1) << 20, kLimit = size_t(1) << 30;

  unsigned char *take(size_t size) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = blocks.find(size);
    if (it == blocks.end())
      return nullptr;
    unsigned char *p = it->second;
    blocks.erase(it);
    bytes -= size;
    return p;
  }
  bool give(unsigned char *p, size_t size) {
    std::lock_guard<std::mutex> lock(mutex);
    if (size < kMinimum || bytes + size > kLimit)
      return false;
    blocks.emplace(size, p);
    bytes += size;
    return true;
  }
};

LargeBlockCache &largeBlocks() {
  static auto *cache = new LargeBlockCache; // outlives every Tensor
  return *cache;
}

} // namespace

void Tensor::Release::operator()(unsigned char *p) const {
  if (p && !largeBlocks().give(p, size))
    std::free(p);
}

void Tensor::allocate(Element e, std::vector<int64_t> shape, bool zero) {
  element = e;
  dims = std::move(shape);
  count = 1;
  for (int64_t d : dims)
    count *= d;
  size_t size = std::max<size_t>((bytes() + 63) / 64 * 64, 64);
  unsigned char *p = largeBlocks().take(size);
  if (!p)
    p = static_cast<unsigned char *>(allocateBuffer(size, 64));
  if (!p)
    throw std::bad_alloc();
  data = std::unique_ptr<unsigned char, Release>(p, Release{size});
  if (zero)
    std::memset(p, 0, size);
}

double Tensor::get(int64_t i) const {
  return loadReal(element, data.get() + i * elementSize(element));
}

namespace {

// Visits the tensor leaves of `type` in order.
void forEachTensor(const TypeDesc &type,
                   const std::function<void(const TypeDesc &)> &f) {
  if (type.kind == TypeDesc::Kind::Tensor) {
    f(type);
    return;
  }
  for (const TypeDesc &c : type.children)
    forEachTensor(c, f);
}

void appendNumber(const Tensor &t, int64_t i, std::string &out) {
  char buf[64];
  std::to_chars_result r{};
  const unsigned char *p = t.data.get() + i * elementSize(t.element);
  switch (elementKind(t.element)) {
  case ElementKind::Bool:
    out += *p ? "true" : "false";
    return;
  case ElementKind::Float: {
    bool finite = visitElement(t.element, [&](auto x) {
      decltype(x) v;
      std::memcpy(&v, p, sizeof v);
      if constexpr (std::is_floating_point_v<decltype(v)>) {
        if (!std::isfinite(v)) {
          out += std::isnan(v) ? "\"nan\"" : (v > 0 ? "\"inf\"" : "\"-inf\"");
          return false;
        }
        r = std::to_chars(buf, buf + sizeof buf, v); // shortest round trip
      }
      return true;
    });
    if (!finite)
      return;
    break;
  }
  case ElementKind::Signed:
  case ElementKind::Unsigned:
    r = std::to_chars(buf, buf + sizeof buf, loadInteger(t.element, p));
    break;
  }
  out.append(buf, r.ptr);
}

void tensorJson(const Tensor &t, size_t dim, int64_t &index, std::string &out) {
  if (dim == t.dims.size()) {
    appendNumber(t, index++, out);
    return;
  }
  out += '[';
  for (int64_t k = 0; k < t.dims[dim]; ++k) {
    if (k)
      out += ", ";
    tensorJson(t, dim + 1, index, out);
  }
  out += ']';
}

void json(const TypeDesc &type, const HostValue &v, size_t &leaf,
          std::string &out) {
  switch (type.kind) {
  case TypeDesc::Kind::Tensor: {
    int64_t index = 0;
    tensorJson(v.leaves[leaf++], 0, index, out);
    return;
  }
  case TypeDesc::Kind::Struct:
    out += '{';
    for (size_t i = 0; i < type.children.size(); ++i) {
      out += (i ? ", \"" : "\"") + type.fields[i] + "\": ";
      json(type.children[i], v, leaf, out);
    }
    out += '}';
    return;
  case TypeDesc::Kind::Tuple:
    out += '[';
    for (size_t i = 0; i < type.children.size(); ++i) {
      if (i)
        out += ", ";
      json(type.children[i], v, leaf, out);
    }
    out += ']';
    return;
  case TypeDesc::Kind::Seq:
    out += "null";
    return;
  }
}

} // namespace

HostValue HostValue::zeros(const TypeDesc &type) {
  HostValue v;
  forEachTensor(type, [&](const TypeDesc &t) {
    v.leaves.emplace_back();
    v.leaves.back().allocate(t.element, t.dims);
  });
  return v;
}

HostValue HostValue::uninitialized(const TypeDesc &type) {
  HostValue v;
  forEachTensor(type, [&](const TypeDesc &t) {
    v.leaves.emplace_back();
    v.leaves.back().allocate(t.element, t.dims, /*zero=*/false);
  });
  return v;
}

HostValue HostValue::clone() const {
  HostValue v;
  for (const Tensor &t : leaves) {
    v.leaves.emplace_back();
    v.leaves.back().allocate(t.element, t.dims, /*zero=*/false);
    std::memcpy(v.leaves.back().data.get(), t.data.get(), t.bytes());
  }
  return v;
}

HostValue fromSlots(const TypeDesc &type, const uint64_t *slots, size_t &next) {
  HostValue v;
  forEachTensor(type, [&](const TypeDesc &t) {
    v.leaves.emplace_back();
    Tensor &out = v.leaves.back();
    if (t.dims.empty()) {
      out.allocate(t.element, {});
      std::memcpy(out.data.get(), &slots[next++], elementSize(t.element));
      return;
    }
    const void *data = reinterpret_cast<const void *>(slots[next++]);
    std::vector<int64_t> dims;
    for (size_t k = 0; k < t.dims.size(); ++k)
      dims.push_back(static_cast<int64_t>(slots[next++]));
    out.allocate(t.element, dims, /*zero=*/false);
    if (out.bytes())
      std::memcpy(out.data.get(), data, out.bytes());
  });
  return v;
}

void toSlots(const TypeDesc &type, const HostValue &v,
             std::vector<uint64_t> &slots) {
  size_t leaf = 0;
  forEachTensor(type, [&](const TypeDesc &t) {
    const Tensor &x = v.leaves[leaf++];
    if (t.dims.empty()) {
      uint64_t slot = 0;
      std::memcpy(&slot, x.data.get(), elementSize(t.element));
      if (t.element == Element::I32) // abi.h: i32 sign-extended
        slot = static_cast<uint64_t>(static_cast<int64_t>(x.as<int32_t>()[0]));
      slots.push_back(slot);
      return;
    }
    slots.push_back(reinterpret_cast<uint64_t>(x.data.get()));
    for (int64_t d : x.dims)
      slots.push_back(static_cast<uint64_t>(d));
  });
}

std::string toJson(const TypeDesc &type, const HostValue &v) {
  std::string out;
  size_t leaf = 0;
  json(type, v, leaf, out);
  return out;
}

void serialize(const HostValue &v, std::string &out) {
  auto put = [&](uint64_t x) {
    out.append(reinterpret_cast<const char *>(&x), sizeof x);
  };
  put(v.leaves.size());
  for (const Tensor &t : v.leaves) {
    put(static_cast<uint64_t>(t.element));
    put(t.dims.size());
    for (int64_t d : t.dims)
      put(static_cast<uint64_t>(d));
    out.append(reinterpret_cast<const char *>(t.data.get()), t.bytes());
  }
}

bool deserialize(const TypeDesc &type, const std::string &in, size_t &pos,
                 HostValue &out, std::string &error) {
  auto get = [&](uint64_t &x) {
    if (in.size() - pos < sizeof x)
      return false;
    std::memcpy(&x, in.data() + pos, sizeof x);
    pos += sizeof x;
    return true;
  };
  HostValue expected = HostValue::zeros(type);
  uint64_t count = 0;
  if (!get(count) || count != expected.leaves.size()) {
    error = "the saved state does not have the layout " + type.str();
    return false;
  }
  for (Tensor &t : expected.leaves) {
    uint64_t element = 0, rank = 0;
    if (!get(element) || !get(rank) || element != uint64_t(t.element) ||
        rank != t.dims.size()) {
      error = "the saved state does not have the layout " + type.str();
      return false;
    }
    for (int64_t d : t.dims) {
      uint64_t saved = 0;
      if (!get(saved) || saved != uint64_t(d)) {
        error = "the saved state does not have the layout " + type.str();
        return false;
      }
    }
    if (in.size() - pos < t.bytes()) {
      error = "the saved state is truncated";
      return false;
    }
    std::memcpy(t.data.get(), in.data() + pos, t.bytes());
    pos += t.bytes();
  }
  out = std::move(expected);
  return true;
}

} // namespace fedrt
