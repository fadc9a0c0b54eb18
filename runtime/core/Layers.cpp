// Pooling, embedding lookup and layer normalization for generated code,
// with their gradients (abi.h; docs/language.md, "Layers"). Plain loops in
// a fixed order: the results depend only on the inputs.
#include "fedrt/Window.h"
#include "fedrt/abi.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

using fedrt::Window;

// Calls f(oy, ox, y0, y1, x0, x1) for every output position with the
// window's in-bounds rows [y0, y1) and columns [x0, x1).
template <typename F> void forEachWindow(const Window &g, F f) {
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    int64_t top = oy * g.stride - g.padTop;
    int64_t y0 = std::max<int64_t>(top, 0), y1 = std::min(top + g.kh, g.h);
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      int64_t left = ox * g.stride - g.padLeft;
      int64_t x0 = std::max<int64_t>(left, 0), x1 = std::min(left + g.kw, g.w);
      f(oy, ox, y0, y1, x0, x1);
    }
  }
}

// Whether v replaces cur as a window's maximum: strictly larger, or the
// first NaN (which then stays, as in max()).
template <typename T> bool beats(T v, T cur) {
  return v > cur || (v != v && cur == cur);
}

// For one window: out[c] = the channel's maximum and at[c] = its element's
// index in the image (the first maximal one in row-major order). Pixels
// outer, channels inner: each pixel's channels are contiguous.
template <typename T>
void windowMax(const Window &g, const T *__restrict image, int64_t y0,
               int64_t y1, int64_t x0, int64_t x1, T *__restrict out,
               int64_t *__restrict at) {
  int64_t first = (y0 * g.w + x0) * g.c;
  for (int64_t c = 0; c < g.c; ++c) {
    out[c] = image[first + c];
    at[c] = first + c;
  }
  for (int64_t y = y0; y < y1; ++y)
    for (int64_t x = x0; x < x1; ++x) {
      int64_t base = (y * g.w + x) * g.c;
      if (base == first)
        continue;
      const T *pixel = image + base;
      for (int64_t c = 0; c < g.c; ++c) { // selects, no branch: vectorized
        bool wins = beats(pixel[c], out[c]);
        out[c] = wins ? pixel[c] : out[c];
        at[c] = wins ? base + c : at[c];
      }
    }
}

template <typename T> void maxPool(const int64_t *geometry, const T *x, T *y) {
  Window g = Window::of(geometry);
  std::vector<int64_t> at(static_cast<size_t>(g.c));
  for (int64_t n = 0; n < g.n; ++n) {
    const T *image = x + n * g.h * g.w * g.c;
    T *out = y + n * g.oh * g.ow * g.c;
    forEachWindow(g, [&](int64_t oy, int64_t ox, int64_t y0, int64_t y1,
                         int64_t x0, int64_t x1) {
      windowMax(g, image, y0, y1, x0, x1, out + (oy * g.ow + ox) * g.c,
                at.data());
    });
  }
}

template <typename T>
void maxPoolGrad(const int64_t *geometry, const T *x, const T *dy, T *dx) {
  Window g = Window::of(geometry);
  std::fill(dx, dx + g.n * g.h * g.w * g.c, T(0));
  std::vector<T> best(static_cast<size_t>(g.c));
  std::vector<int64_t> at(static_cast<size_t>(g.c));
  for (int64_t n = 0; n < g.n; ++n) {
    const T *image = x + n * g.h * g.w * g.c;
    const T *d = dy + n * g.oh * g.ow * g.c;
    T *out = dx + n * g.h * g.w * g.c;
    forEachWindow(g, [&](int64_t oy, int64_t ox, int64_t y0, int64_t y1,
                         int64_t x0, int64_t x1) {
      windowMax(g, image, y0, y1, x0, x1, best.data(), at.data());
      const T *di = d + (oy * g.ow + ox) * g.c;
      for (int64_t c = 0; c < g.c; ++c)
        out[at[c]] += di[c];
    });
  }
}

template <typename T> void avgPool(const int64_t *geometry, const T *x, T *y) {
  Window g = Window::of(geometry);
  for (int64_t n = 0; n < g.n; ++n) {
    const T *image = x + n * g.h * g.w * g.c;
    T *out = y + n * g.oh * g.ow * g.c;
    forEachWindow(g, [&](int64_t oy, int64_t ox, int64_t y0, int64_t y1,
                         int64_t x0, int64_t x1) {
      T *o = out + (oy * g.ow + ox) * g.c;
      double count = static_cast<double>((y1 - y0) * (x1 - x0));
      for (int64_t c = 0; c < g.c; ++c) {
        double total = 0;
        for (int64_t yy = y0; yy < y1; ++yy)
          for (int64_t xx = x0; xx < x1; ++xx)
            total += static_cast<double>(image[(yy * g.w + xx) * g.c + c]);
        o[c] = static_cast<T>(total / count);
      }
    });
  }
}

template <typename T>
void avgPoolGrad(const int64_t *geometry, const T *dy, T *dx) {
  Window g = Window::of(geometry);
  std::fill(dx, dx + g.n * g.h * g.w * g.c, T(0));
  for (int64_t n = 0; n < g.n; ++n) {
    const T *d = dy + n * g.oh * g.ow * g.c;
    T *out = dx + n * g.h * g.w * g.c;
    forEachWindow(g, [&](int64_t oy, int64_t ox, int64_t y0, int64_t y1,
                         int64_t x0, int64_t x1) {
      const T *di = d + (oy * g.ow + ox) * g.c;
      T count = static_cast<T>((y1 - y0) * (x1 - x0));
      for (int64_t yy = y0; yy < y1; ++yy)
        for (int64_t xx = x0; xx < x1; ++xx)
          for (int64_t c = 0; c < g.c; ++c)
            out[(yy * g.w + xx) * g.c + c] += di[c] / count;
    });
  }
}

template <typename T>
int64_t embedding(int64_t count, int64_t rows, int64_t dim, const int32_t *ids,
                  const T *table, T *out) {
  for (int64_t i = 0; i < count; ++i)
    if (ids[i] < 0 || ids[i] >= rows)
      return ids[i];
  for (int64_t i = 0; i < count; ++i)
    std::copy(table + ids[i] * dim, table + (ids[i] + 1) * dim, out + i * dim);
  return FEDRT_NO_VALUES;
}

template <typename T>
void embeddingGrad(int64_t count, int64_t rows, int64_t dim, const int32_t *ids,
                   const T *dy, T *dtable) {
  std::fill(dtable, dtable + rows * dim, T(0));
  for (int64_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= rows)
      continue; // the forward lookup has failed already
    T *row = dtable + ids[i] * dim;
    for (int64_t j = 0; j < dim; ++j)
      row[j] += dy[i * dim + j];
  }
}

constexpr double kLayerNormEpsilon = 1e-5; // PyTorch's and Keras's default

// The mean and 1 / sqrt(var + eps) of one row, in f64.
template <typename T>
void rowStatistics(const T *x, int64_t dim, double &mean, double &rstd) {
  double total = 0;
  for (int64_t j = 0; j < dim; ++j)
    total += static_cast<double>(x[j]);
  mean = total / static_cast<double>(dim);
  double squares = 0;
  for (int64_t j = 0; j < dim; ++j) {
    double d = static_cast<double>(x[j]) - mean;
    squares += d * d;
  }
  rstd =
      1.0 / std::sqrt(squares / static_cast<double>(dim) + kLayerNormEpsilon);
}

template <typename T>
void layerNorm(int64_t count, int64_t dim, const T *x, T *y) {
  for (int64_t i = 0; i < count; ++i) {
    const T *row = x + i * dim;
    double mean, rstd;
    rowStatistics(row, dim, mean, rstd);
    for (int64_t j = 0; j < dim; ++j)
      y[i * dim + j] =
          static_cast<T>((static_cast<double>(row[j]) - mean) * rstd);
  }
}

// dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat the output.
template <typename T>
void layerNormGrad(int64_t count, int64_t dim, const T *x, const T *dy, T *dx) {
  std::vector<double> xhat(static_cast<size_t>(dim));
  for (int64_t i = 0; i < count; ++i) {
    const T *row = x + i * dim, *d = dy + i * dim;
    double mean, rstd;
    rowStatistics(row, dim, mean, rstd);
    double sumDy = 0, sumDyXhat = 0;
    for (int64_t j = 0; j < dim; ++j) {
      xhat[j] = (static_cast<double>(row[j]) - mean) * rstd;
      sumDy += static_cast<double>(d[j]);
      sumDyXhat += static_cast<double>(d[j]) * xhat[j];
    }
    double n = static_cast<double>(dim);
    for (int64_t j = 0; j < dim; ++j)
      dx[i * dim + j] =
          static_cast<T>(rstd * (static_cast<double>(d[j]) - sumDy / n -
                                 xhat[j] * sumDyXhat / n));
  }
}

} // namespace

extern "C" {

void fedrt_max_pool2d_f32(const int64_t *g, const float *x, float *y) {
  maxPool(g, x, y);
}
void fedrt_max_pool2d_grad_f32(const int64_t *g, const float *x,
                               const float *dy, float *dx) {
  maxPoolGrad(g, x, dy, dx);
}
void fedrt_avg_pool2d_f32(const int64_t *g, const float *x, float *y) {
  avgPool(g, x, y);
}
void fedrt_avg_pool2d_grad_f32(const int64_t *g, const float *dy, float *dx) {
  avgPoolGrad(g, dy, dx);
}
int64_t fedrt_embedding_f32(int64_t count, int64_t rows, int64_t dim,
                            const int32_t *ids, const float *table,
                            float *out) {
  return embedding(count, rows, dim, ids, table, out);
}
void fedrt_embedding_grad_f32(int64_t count, int64_t rows, int64_t dim,
                              const int32_t *ids, const float *dy,
                              float *dtable) {
  embeddingGrad(count, rows, dim, ids, dy, dtable);
}
void fedrt_layer_norm_f32(int64_t count, int64_t dim, const float *x,
                          float *y) {
  layerNorm(count, dim, x, y);
}
void fedrt_layer_norm_grad_f32(int64_t count, int64_t dim, const float *x,
                               const float *dy, float *dx) {
  layerNormGrad(count, dim, x, dy, dx);
}

void fedrt_max_pool2d_f64(const int64_t *g, const double *x, double *y) {
  maxPool(g, x, y);
}
void fedrt_max_pool2d_grad_f64(const int64_t *g, const double *x,
                               const double *dy, double *dx) {
  maxPoolGrad(g, x, dy, dx);
}
void fedrt_avg_pool2d_f64(const int64_t *g, const double *x, double *y) {
  avgPool(g, x, y);
}
void fedrt_avg_pool2d_grad_f64(const int64_t *g, const double *dy, double *dx) {
  avgPoolGrad(g, dy, dx);
}
int64_t fedrt_embedding_f64(int64_t count, int64_t rows, int64_t dim,
                            const int32_t *ids, const double *table,
                            double *out) {
  return embedding(count, rows, dim, ids, table, out);
}
void fedrt_embedding_grad_f64(int64_t count, int64_t rows, int64_t dim,
                              const int32_t *ids, const double *dy,
                              double *dtable) {
  embeddingGrad(count, rows, dim, ids, dy, dtable);
}
void fedrt_layer_norm_f64(int64_t count, int64_t dim, const double *x,
                          double *y) {
  layerNorm(count, dim, x, y);
}
void fedrt_layer_norm_grad_f64(int64_t count, int64_t dim, const double *x,
                               const double *dy, double *dx) {
  layerNormGrad(count, dim, x, dy, dx);
}

} // extern "C"
