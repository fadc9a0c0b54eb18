// fedrt_matmul against a plain triple loop, over the shapes of the narrow
// kernel (n <= 16 columns: a mini-batch against a 10-class model) and its
// edges, with A, B and C each placed against a page the process may not
// touch: the kernel reads 16 lanes of B in place and stores 16 lanes of C,
// so a read past B's end or a store past C's end faults here instead of
// passing silently.
#include "fedrt/abi.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

// `count` elements of T ending exactly where an inaccessible page begins.
template <typename T> class Fenced {
public:
  explicit Fenced(size_t count) : count_(count) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t bytes = count * sizeof(T);
    span_ = (bytes + page - 1) / page * page + page;
    base_ = static_cast<unsigned char *>(
        mmap(nullptr, span_, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_NE(base_, MAP_FAILED);
    EXPECT_EQ(mprotect(base_ + span_ - page, page, PROT_NONE), 0);
    data_ = reinterpret_cast<T *>(base_ + span_ - page - bytes);
  }
  ~Fenced() { munmap(base_, span_); }
  Fenced(const Fenced &) = delete;
  Fenced &operator=(const Fenced &) = delete;
  T *data() { return data_; }
  size_t size() const { return count_; }

private:
  size_t count_, span_ = 0;
  unsigned char *base_ = nullptr;
  T *data_ = nullptr;
};

void matmul(int64_t m, int64_t n, int64_t k, const float *a, bool ta,
            const float *b, bool tb, float *c) {
  fedrt_matmul_f32(m, n, k, a, ta, b, tb, c);
}
void matmul(int64_t m, int64_t n, int64_t k, const double *a, bool ta,
            const double *b, bool tb, double *c) {
  fedrt_matmul_f64(m, n, k, a, ta, b, tb, c);
}

template <typename T> void checkShapes() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(-1, 1);
  const double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (int64_t m : {0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17})
    for (int64_t n : {0, 1, 2, 3, 5, 8, 10, 15, 16, 17})
      for (int64_t k : {0, 1, 2, 3, 7, 16, 64, 256, 257})
        for (bool ta : {false, true})
          for (bool tb : {false, true}) {
            Fenced<T> a(static_cast<size_t>(m * k)),
                b(static_cast<size_t>(k * n)), c(static_cast<size_t>(m * n));
            for (size_t i = 0; i < a.size(); ++i)
              a.data()[i] = static_cast<T>(uniform(rng));
            for (size_t i = 0; i < b.size(); ++i)
              b.data()[i] = static_cast<T>(uniform(rng));
            std::memset(c.data(), 0xff, c.size() * sizeof(T)); // NaN
            matmul(m, n, k, a.data(), ta, b.data(), tb, c.data());
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                double want = 0;
                for (int64_t p = 0; p < k; ++p)
                  want += static_cast<double>(ta ? a.data()[p * m + i]
                                                 : a.data()[i * k + p]) *
                          static_cast<double>(tb ? b.data()[j * k + p]
                                                 : b.data()[p * n + j]);
                double got = static_cast<double>(c.data()[i * n + j]);
                ASSERT_NEAR(got, want, tolerance * (1 + std::abs(want)))
                    << "C[" << i << ", " << j << "] of " << m << " x " << n
                    << " x " << k << (ta ? ", A transposed" : "")
                    << (tb ? ", B transposed" : "");
              }
          }
}

TEST(MatmulTest, NarrowAndWideShapesMatchTheDefinitionF32) {
  checkShapes<float>();
}

TEST(MatmulTest, NarrowAndWideShapesMatchTheDefinitionF64) {
  checkShapes<double>();
}

} // namespace
