// The geometry of a convolution or pooling window over NHWC images: what
// fedc's sema uses to type conv2d, max_pool2d and avg_pool2d and what the
// runtime's kernels (core/Conv.cpp, core/Layers.cpp) index with, so the two
// cannot disagree on an output size or a padding (docs/language.md,
// "Layers").
#pragma once

#include "fedrt/abi.h"

#include <cstdint>

namespace fedrt {

// The output length of one spatial axis: "valid" keeps the windows inside
// the input, floor((in - k) / stride) + 1 (0 when k > in); "same" gives
// ceil(in / stride), TensorFlow's and Keras's convention.
inline int64_t windowOutput(int64_t in, int64_t k, int64_t stride, bool same) {
  if (same) // ceil(in / stride), without overflow for any stride
    return in <= 0 ? 0 : (in - 1) / stride + 1;
  return in < k ? 0 : (in - k) / stride + 1;
}

// The padding before the first element of one axis: "same" pads
// (out - 1) * stride + k - in in total, half before (rounded down) and the
// rest after, as TensorFlow does.
inline int64_t windowPadBefore(int64_t in, int64_t k, int64_t stride,
                               bool same) {
  if (!same)
    return 0;
  int64_t total = (windowOutput(in, k, stride, true) - 1) * stride + k - in;
  return total > 0 ? total / 2 : 0;
}

struct Window {
  int64_t n = 0, h = 0, w = 0, c = 0, kh = 0, kw = 0, o = 0, stride = 1;
  bool same = false;
  int64_t oh = 0, ow = 0, padTop = 0, padLeft = 0; // derived

  // From abi.h's geometry array (FEDRT_WINDOW_FIELDS entries).
  static Window of(const int64_t *g) {
    Window x;
    x.n = g[FEDRT_WINDOW_N];
    x.h = g[FEDRT_WINDOW_H];
    x.w = g[FEDRT_WINDOW_W];
    x.c = g[FEDRT_WINDOW_C];
    x.kh = g[FEDRT_WINDOW_KH];
    x.kw = g[FEDRT_WINDOW_KW];
    x.o = g[FEDRT_WINDOW_O];
    x.stride = g[FEDRT_WINDOW_STRIDE];
    x.same = g[FEDRT_WINDOW_SAME] != 0;
    x.oh = windowOutput(x.h, x.kh, x.stride, x.same);
    x.ow = windowOutput(x.w, x.kw, x.stride, x.same);
    x.padTop = windowPadBefore(x.h, x.kh, x.stride, x.same);
    x.padLeft = windowPadBefore(x.w, x.kw, x.stride, x.same);
    return x;
  }
};

} // namespace fedrt
