// conv2d and its two gradients for generated code: im2col (the patches of
// a chunk of images as the rows of a matrix) and one Eigen GEMM per chunk
// (Chellapilla et al. 2006, "High Performance Convolutional Neural
// Networks for Document Processing"). bench/conv_bench.cpp measures this
// against oneDNN; bench/RESULTS.md has the numbers and the decision.
#include "fedrt/Window.h"
#include "fedrt/abi.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cstring>

namespace {

using fedrt::Window;

template <typename T>
using Matrix =
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T> using Map = Eigen::Map<Matrix<T>>;
template <typename T> using ConstMap = Eigen::Map<const Matrix<T>>;

// Patch rows per GEMM: enough for the GEMM to run at speed, few enough for
// the patch matrix to stay in L2 (1024 rows x 800 columns of f32 for the
// McMahan CNN's second convolution: 3.2 MB).
constexpr int64_t kChunkRows = 1024;

// Images per chunk: whole images, at least one.
int64_t imagesPerChunk(const Window &g) {
  int64_t perImage = g.oh * g.ow;
  return std::max<int64_t>(1, kChunkRows / std::max<int64_t>(perImage, 1));
}

// The window columns [first, last) of output column ox that fall inside
// the image: pixels ix = ox * stride + kx - padLeft in [0, w).
void columnRange(const Window &g, int64_t ox, int64_t &first, int64_t &last) {
  int64_t left = ox * g.stride - g.padLeft;
  first = std::max<int64_t>(0, -left);
  last = std::min<int64_t>(g.kw, g.w - left);
  last = std::max(last, first);
}

// col[(i, oy, ox), (ky, kx, c)] for images [first, first + count). With
// channels last, a window row's in-bounds pixels are one contiguous run of
// the image: one copy per window row, zeros around it.
template <typename T>
void im2col(const Window &g, const T *x, int64_t first, int64_t count, T *col) {
  int64_t patch = g.kh * g.kw * g.c, rowLength = g.kw * g.c;
  for (int64_t i = 0; i < count; ++i) {
    const T *image = x + (first + i) * g.h * g.w * g.c;
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T *row = col + ((i * g.oh + oy) * g.ow + ox) * patch;
        int64_t kx0, kx1;
        columnRange(g, ox, kx0, kx1);
        int64_t ix0 = ox * g.stride + kx0 - g.padLeft;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          int64_t iy = oy * g.stride + ky - g.padTop;
          T *out = row + ky * rowLength;
          if (iy < 0 || iy >= g.h) {
            std::fill(out, out + rowLength, T(0));
            continue;
          }
          std::fill(out, out + kx0 * g.c, T(0));
          std::copy(image + (iy * g.w + ix0) * g.c,
                    image + (iy * g.w + ix0 + kx1 - kx0) * g.c,
                    out + kx0 * g.c);
          std::fill(out + kx1 * g.c, out + rowLength, T(0));
        }
      }
  }
}

// The adjoint of im2col: each patch element added back to the pixel it
// came from, in row order (deterministic).
template <typename T>
void col2im(const Window &g, const T *col, int64_t first, int64_t count,
            T *dx) {
  int64_t patch = g.kh * g.kw * g.c, rowLength = g.kw * g.c;
  for (int64_t i = 0; i < count; ++i) {
    T *image = dx + (first + i) * g.h * g.w * g.c;
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T *row = col + ((i * g.oh + oy) * g.ow + ox) * patch;
        int64_t kx0, kx1;
        columnRange(g, ox, kx0, kx1);
        int64_t ix0 = ox * g.stride + kx0 - g.padLeft;
        int64_t run = (kx1 - kx0) * g.c;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          int64_t iy = oy * g.stride + ky - g.padTop;
          if (iy < 0 || iy >= g.h)
            continue;
          T *dst = image + (iy * g.w + ix0) * g.c;
          const T *src = row + ky * rowLength + kx0 * g.c;
          for (int64_t k = 0; k < run; ++k)
            dst[k] += src[k];
        }
      }
  }
}

// Whether the patches are the image itself (a 1x1 window, stride 1): then
// im2col is the identity and x is the patch matrix.
bool pointwise(const Window &g) {
  return g.kh == 1 && g.kw == 1 && g.stride == 1;
}

// Scratch for one chunk's patches from the arena, returned by the caller;
// null (the context failed: the arena is exhausted) when there is no room,
// also when the size overflows — then the arena refuses the largest
// request, which no limit admits.
template <typename T> T *scratch(fedrt_context *ctx, const Window &g) {
  uint64_t bytes = sizeof(T);
  for (int64_t factor : {imagesPerChunk(g), g.oh, g.ow, g.kh, g.kw, g.c})
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(factor), &bytes))
      bytes = UINT64_MAX;
  void *p = fedrt_arena_alloc(ctx, bytes);
  return fedrt_failed(ctx) ? nullptr : static_cast<T *>(p);
}

// Runs `chunk(col, first, count)` over the batch in chunks of images, `col`
// scratch for one chunk's patches taken from the arena and returned after;
// nothing runs for an empty batch, or when the arena refuses the scratch
// (the context then failed).
template <typename T, typename F>
void forEachChunk(fedrt_context *ctx, const Window &g, F &&chunk) {
  if (g.n == 0)
    return;
  uint64_t mark = fedrt_arena_mark(ctx);
  T *col = scratch<T>(ctx, g);
  if (!col)
    return;
  int64_t step = imagesPerChunk(g);
  for (int64_t first = 0; first < g.n; first += step)
    chunk(col, first, std::min(step, g.n - first));
  fedrt_arena_release(ctx, mark);
}

template <typename T>
void forward(fedrt_context *ctx, const int64_t *geometry, const T *x,
             const T *w, T *y) {
  Window g = Window::of(geometry);
  int64_t patch = g.kh * g.kw * g.c, perImage = g.oh * g.ow;
  ConstMap<T> filter(w, patch, g.o);
  if (pointwise(g)) {
    Map<T>(y, g.n * perImage, g.o).noalias() =
        ConstMap<T>(x, g.n * perImage, patch) * filter;
    return;
  }
  forEachChunk<T>(ctx, g, [&](T *col, int64_t first, int64_t count) {
    im2col(g, x, first, count, col);
    int64_t rows = count * perImage;
    Map<T>(y + first * perImage * g.o, rows, g.o).noalias() =
        ConstMap<T>(col, rows, patch) * filter;
  });
}

template <typename T>
void inputGrad(fedrt_context *ctx, const int64_t *geometry, const T *dy,
               const T *w, T *dx) {
  Window g = Window::of(geometry);
  int64_t patch = g.kh * g.kw * g.c, perImage = g.oh * g.ow;
  ConstMap<T> filter(w, patch, g.o);
  if (pointwise(g)) {
    Map<T>(dx, g.n * perImage, patch).noalias() =
        ConstMap<T>(dy, g.n * perImage, g.o) * filter.transpose();
    return;
  }
  std::fill(dx, dx + g.n * g.h * g.w * g.c, T(0));
  forEachChunk<T>(ctx, g, [&](T *col, int64_t first, int64_t count) {
    int64_t rows = count * perImage;
    Map<T>(col, rows, patch).noalias() =
        ConstMap<T>(dy + first * perImage * g.o, rows, g.o) *
        filter.transpose();
    col2im(g, col, first, count, dx);
  });
}

template <typename T>
void filterGrad(fedrt_context *ctx, const int64_t *geometry, const T *x,
                const T *dy, T *dw) {
  Window g = Window::of(geometry);
  int64_t patch = g.kh * g.kw * g.c, perImage = g.oh * g.ow;
  Map<T> grad(dw, patch, g.o);
  if (pointwise(g)) {
    grad.noalias() = ConstMap<T>(x, g.n * perImage, patch).transpose() *
                     ConstMap<T>(dy, g.n * perImage, g.o);
    return;
  }
  grad.setZero();
  forEachChunk<T>(ctx, g, [&](T *col, int64_t first, int64_t count) {
    im2col(g, x, first, count, col);
    int64_t rows = count * perImage;
    grad.noalias() += ConstMap<T>(col, rows, patch).transpose() *
                      ConstMap<T>(dy + first * perImage * g.o, rows, g.o);
  });
}

} // namespace

extern "C" {

void fedrt_conv2d_f32(fedrt_context *ctx, const int64_t *geometry,
                      const float *x, const float *w, float *y) {
  forward(ctx, geometry, x, w, y);
}
void fedrt_conv2d_f64(fedrt_context *ctx, const int64_t *geometry,
                      const double *x, const double *w, double *y) {
  forward(ctx, geometry, x, w, y);
}
void fedrt_conv2d_input_grad_f32(fedrt_context *ctx, const int64_t *geometry,
                                 const float *dy, const float *w, float *dx) {
  inputGrad(ctx, geometry, dy, w, dx);
}
void fedrt_conv2d_input_grad_f64(fedrt_context *ctx, const int64_t *geometry,
                                 const double *dy, const double *w,
                                 double *dx) {
  inputGrad(ctx, geometry, dy, w, dx);
}
void fedrt_conv2d_filter_grad_f32(fedrt_context *ctx, const int64_t *geometry,
                                  const float *x, const float *dy, float *dw) {
  filterGrad(ctx, geometry, x, dy, dw);
}
void fedrt_conv2d_filter_grad_f64(fedrt_context *ctx, const int64_t *geometry,
                                  const double *x, const double *dy,
                                  double *dw) {
  filterGrad(ctx, geometry, x, dy, dw);
}

} // extern "C"
