// GEMM for generated code, through Eigen maps over the flat row-major
// buffers (no copies).
#include "fedrt/abi.h"

#include <Eigen/Dense>

namespace {

template <typename T>
void matmul(int64_t m, int64_t n, int64_t k, const T *a, bool ta, const T *b,
            bool tb, T *c) {
  using Matrix =
      Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<const Matrix>;
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
