// GEMM for generated code, through Eigen maps over the flat row-major
// buffers (no copies).
#include "fedrt/abi.h"

#include <Eigen/Dense>

#include <algorithm>
#include <type_traits>
#include <vector>

namespace {

// Products with few columns (a client's mini-batch against a 10-class
// model: 16 x 64 x 10) where GEMM's packing and blocking cost more than
// the arithmetic: each row of C accumulates in one 16-lane vector, lanes
// past n unused. op(B)'s rows are read in place from a row-major B (16
// lanes from row p run into row p + 1, whose values land in unused lanes);
// only the last rows, where 16 lanes would read past B's end, and a
// transposed B are copied into a zero-padded [rows, 16] panel. Copying
// every row into the panel cost as much as the arithmetic (one memcpy per
// row at these sizes).
template <typename T> struct NarrowPanel {
  static constexpr int64_t kLanes = 16, kMaxDepth = 256;
  using Lane = Eigen::Array<T, kLanes, 1>;
  const T *b; // op(B) rows [0, inPlace): b + p * n
  int64_t n, inPlace;
  alignas(64) T copied[kMaxDepth * kLanes]; // rows [inPlace, k)

  NarrowPanel(int64_t k, const T *bData, bool tb, int64_t cols)
      : b(bData), n(cols), inPlace(0) {
    if (!tb && k * n >= kLanes)
      inPlace = (k * n - kLanes) / n + 1;
    for (int64_t p = inPlace; p < k; ++p) {
      T *row = copied + (p - inPlace) * kLanes;
      for (int64_t j = 0; j < kLanes; ++j)
        row[j] = j < n ? (tb ? b[j * k + p] : b[p * n + j]) : T(0);
    }
  }
  Eigen::Map<const Lane> row(int64_t p) const {
    return Eigen::Map<const Lane>(
        p < inPlace ? b + p * n : copied + (p - inPlace) * kLanes);
  }
};

// Row i of C from its 16-lane accumulator: all 16 lanes while they stay
// inside C (lanes past n land in rows after i, which are stored later),
// then element by element.
template <typename T, typename Lane>
void storeNarrowRow(T *c, int64_t m, int64_t n, int64_t i, const Lane &acc) {
  if (i * n + Lane::RowsAtCompileTime <= m * n) {
    Eigen::Map<Lane>(c + i * n) = acc;
    return;
  }
  for (int64_t j = 0; j < n; ++j)
    c[i * n + j] = acc[j];
}

template <typename T>
bool narrowMatmul(int64_t m, int64_t n, int64_t k, const T *a, bool ta,
                  const T *b, bool tb, T *c) {
  using Panel = NarrowPanel<T>;
  if (n > Panel::kLanes || k > Panel::kMaxDepth)
    return false;
  const Panel panel(k, b, tb, n);
  using Lane = typename Panel::Lane;
  int64_t step = ta ? 1 : k;
  // Four rows at a time: four independent accumulators (registers) keep the
  // FMA units busy instead of waiting on one dependency chain.
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    Lane acc0 = Lane::Zero(), acc1 = Lane::Zero(), acc2 = Lane::Zero(),
         acc3 = Lane::Zero();
    for (int64_t p = 0; p < k; ++p) {
      auto row = panel.row(p);
      const T *x = ta ? a + p * m + i : a + i * k + p;
      acc0 += x[0] * row;
      acc1 += x[step] * row;
      acc2 += x[2 * step] * row;
      acc3 += x[3 * step] * row;
    }
    storeNarrowRow(c, m, n, i, acc0);
    storeNarrowRow(c, m, n, i + 1, acc1);
    storeNarrowRow(c, m, n, i + 2, acc2);
    storeNarrowRow(c, m, n, i + 3, acc3);
  }
  for (; i < m; ++i) {
    Lane acc = Lane::Zero();
    for (int64_t p = 0; p < k; ++p)
      acc += (ta ? a[p * m + i] : a[i * k + p]) * panel.row(p);
    storeNarrowRow(c, m, n, i, acc);
  }
  return true;
}

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, const T *a, bool ta, const T *b,
          bool tb, T *c);

// f32 products with a long inner dimension (docs/language.md,
// "Reductions"): Eigen accumulates each output in f32 over all of k, which
// loses digits past a few thousand terms (a dot of 2e7 ones gives
// 16777216). Past kLongDepth, the inner dimension is cut into panels of
// kPanel; each panel's product is an f32 GEMM (as BLAS and PyTorch
// compute any product), and the panels are summed in f64. Up to
// kLongDepth (every dense layer of the usual FL models but the CNN's
// 3136-wide one) the product is one f32 GEMM.
constexpr int64_t kLongDepth = 1024, kPanel = 256;

void longMatmul(int64_t m, int64_t n, int64_t k, const float *a, bool ta,
                const float *b, bool tb, float *c) {
  std::vector<double> total(static_cast<size_t>(m * n), 0.0);
  std::vector<float> panel(static_cast<size_t>(m * n));
  // A panel of rows p0..p0+len of op(A)'s columns: copied contiguous so
  // the GEMM sees an ordinary matrix.
  std::vector<float> ap, bp;
  for (int64_t p0 = 0; p0 < k; p0 += kPanel) {
    int64_t len = std::min(kPanel, k - p0);
    ap.resize(static_cast<size_t>(m * len));
    bp.resize(static_cast<size_t>(len * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < len; ++p)
        ap[static_cast<size_t>(i * len + p)] =
            ta ? a[(p0 + p) * m + i] : a[i * k + p0 + p];
    for (int64_t p = 0; p < len; ++p)
      for (int64_t j = 0; j < n; ++j)
        bp[static_cast<size_t>(p * n + j)] =
            tb ? b[j * k + p0 + p] : b[(p0 + p) * n + j];
    gemm(m, n, len, ap.data(), false, bp.data(), false, panel.data());
    for (size_t i = 0; i < total.size(); ++i)
      total[i] += static_cast<double>(panel[i]);
  }
  for (size_t i = 0; i < total.size(); ++i)
    c[i] = static_cast<float>(total[i]);
}

template <typename T>
void matmul(int64_t m, int64_t n, int64_t k, const T *a, bool ta, const T *b,
            bool tb, T *c) {
  if constexpr (std::is_same_v<T, float>) {
    if (k > kLongDepth) {
      longMatmul(m, n, k, a, ta, b, tb, c);
      return;
    }
  }
  gemm(m, n, k, a, ta, b, tb, c);
}

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, const T *a, bool ta, const T *b,
          bool tb, T *c) {
  using Matrix =
      Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<const Matrix>;
  if (narrowMatmul(m, n, k, a, ta, b, tb, c))
    return;
  Eigen::Map<Matrix> C(c, m, n);
  // A stored [k, m] when transposed; B stored [n, k].
  Map A(a, ta ? k : m, ta ? m : k);
  Map B(b, tb ? n : k, tb ? k : n);
  if (ta && tb)
    C.noalias() = A.transpose() * B.transpose();
  else if (ta)
    C.noalias() = A.transpose() * B;
  else if (tb)
    C.noalias() = A * B.transpose();
  else
    C.noalias() = A * B;
}

} // namespace

extern "C" {

void fedrt_matmul_f32(int64_t m, int64_t n, int64_t k, const float *a,
                      int32_t transpose_a, const float *b, int32_t transpose_b,
                      float *c) {
  matmul(m, n, k, a, transpose_a != 0, b, transpose_b != 0, c);
}

void fedrt_matmul_f64(int64_t m, int64_t n, int64_t k, const double *a,
                      int32_t transpose_a, const double *b, int32_t transpose_b,
                      double *c) {
  matmul(m, n, k, a, transpose_a != 0, b, transpose_b != 0, c);
}

} // extern "C"
