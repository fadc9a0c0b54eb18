/* The contract between code fedc generates and libfedrt (docs/abi.md).
 *
 * Generated local fns have the signature
 *
 *   { leaves of the result } @name(fedrt_context *ctx, leaves of each argument)
 *
 * where a value is flattened into leaves in declaration order: a scalar is
 * one leaf (float, double, i32, i64, or i8 for bool); a tensor of rank r is
 * r + 1 leaves (a pointer to its row-major elements, then its r dimensions
 * as i64); a struct or tuple is the leaves of its fields in order; a seq<T>
 * is its record count (i64) then one column pointer per leaf of T (column
 * j holds record i's value of leaf j at [i * size(leaf j)]). Temporaries
 * and results live in the context's arena, never in malloc'd memory.
 *
 * A run-time check that fails (a `?` dimension that does not match, an
 * index out of bounds) records the error in the context and makes every fn
 * return at once; callers check `fedrt_failed` after each call. Nothing is
 * written through a bad pointer.
 *
 * Every fn also gets an entry point with one fixed C signature, for the
 * runtime and `fedc call`:
 *
 *   void fedrt_entry_<name>(fedrt_context *ctx, const uint64_t *args,
 *                           uint64_t *results);
 *
 * args and results hold one 8-byte slot per leaf: pointers and i64 as is,
 * i32 sign-extended, bool as 0/1, f32 and f64 as their bit patterns in the
 * low bytes of the slot.
 */
#ifndef FEDRT_ABI_H
#define FEDRT_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrt_context fedrt_context;

/* The entry-point signature: every local fn's fedrt_entry_<name>, and every
 * function the plan's function table holds. */
typedef void (*fedrt_entry_fn)(fedrt_context *ctx, const uint64_t *args,
                               uint64_t *results);

/* Bump allocation from the invocation's arena; 64-byte aligned, never
 * null (exhaustion reports an error and returns a small scratch block). */
void *fedrt_arena_alloc(fedrt_context *ctx, uint64_t bytes);
/* The arena position, and a return to it (loop iterations free their
 * temporaries this way). */
uint64_t fedrt_arena_mark(fedrt_context *ctx);
void fedrt_arena_release(fedrt_context *ctx, uint64_t mark);

/* Records a failed run-time check: `what` names the .fed location and the
 * check ("train.fed:12:9: '+' dimension 0"), got/expected the values, or
 * both FEDRT_NO_VALUES for a check with no values to show (an integer
 * overflow). */
#define FEDRT_NO_VALUES INT64_MIN
void fedrt_fail(fedrt_context *ctx, const char *what, int64_t got,
                int64_t expected);
/* Non-zero once a check has failed in this invocation. Generated code reads
 * the flag directly: it is the first 32-bit field of the context. */
int32_t fedrt_failed(const fedrt_context *ctx);

/* C[m, n] = op(A)[m, k] @ op(B)[k, n], row-major, op = transpose when the
 * flag is set (A is then stored [k, m], B [n, k]); C must not overlap A or
 * B. Through Eigen, or a 16-lane kernel when n <= 16 and k <= 256
 * (runtime/core/Matmul.cpp). */
void fedrt_matmul_f32(int64_t m, int64_t n, int64_t k, const float *a,
                      int32_t transpose_a, const float *b, int32_t transpose_b,
                      float *c);
void fedrt_matmul_f64(int64_t m, int64_t n, int64_t k, const double *a,
                      int32_t transpose_a, const double *b, int32_t transpose_b,
                      double *c);

/* Fills out[0..n) with normal(0, stddev) samples that depend only on seed
 * and the index (splitmix64 counters through Box-Muller), so the same seed
 * gives the same tensor on every machine and thread count. */
void fedrt_random_normal_f32(int64_t seed, float stddev, float *out, int64_t n);
void fedrt_random_normal_f64(int64_t seed, double stddev, double *out,
                             int64_t n);

/* Fills out[0..n) with uniform samples in [low, high): element i from
 * (seed, i) only, as random_normal's. */
void fedrt_random_uniform_f32(int64_t seed, float low, float high, float *out,
                              int64_t n);
void fedrt_random_uniform_f64(int64_t seed, double low, double high,
                              double *out, int64_t n);

/* shuffle(data, seed): rows[0..n) becomes a permutation of 0..n-1 drawn by
 * Fisher-Yates from (seed, n) only (each swap's index from a splitmix64
 * counter, mapped to [0, i] by Lemire's multiply-shift). */
void fedrt_shuffle_rows(int64_t seed, int64_t n, int64_t *rows);
/* dst row i = src row rows[i], rows of row_bytes bytes (a seq column
 * gathered into shuffled order). */
void fedrt_gather_rows(const void *src, void *dst, const int64_t *rows,
                       int64_t n, int64_t row_bytes);

/* Convolution and pooling over NHWC images (docs/language.md, "Layers").
 * The geometry is an int64 array indexed by fedrt_window_field: the batch
 * n, the image h x w x c, the window kh x kw, the output channels o
 * (convolutions), the stride, and same = 1 for "same" padding (output
 * ceil(h / stride); the padding split as TensorFlow does, the extra row and
 * column after) or 0 for "valid" (output floor((h - kh) / stride) + 1).
 * Filters are [kh, kw, c, o] (HWIO). Scratch memory comes from ctx's arena
 * and is returned before the call ends; results depend only on the inputs
 * (no threads inside). */
typedef enum fedrt_window_field {
  FEDRT_WINDOW_N,
  FEDRT_WINDOW_H,
  FEDRT_WINDOW_W,
  FEDRT_WINDOW_C,
  FEDRT_WINDOW_KH,
  FEDRT_WINDOW_KW,
  FEDRT_WINDOW_O,
  FEDRT_WINDOW_STRIDE,
  FEDRT_WINDOW_SAME,
  FEDRT_WINDOW_FIELDS
} fedrt_window_field;

/* conv2d: y[n, oh, ow, o] = sum x[n, oy*s+ky-pad, ox*s+kx-pad, c] w[ky, kx,
 * c, o] (a cross-correlation, as every framework's conv2d), by im2col and
 * GEMM. The gradients: dx from dy and w, dw from x and dy. */
void fedrt_conv2d_f32(fedrt_context *ctx, const int64_t *geometry,
                      const float *x, const float *w, float *y);
void fedrt_conv2d_f64(fedrt_context *ctx, const int64_t *geometry,
                      const double *x, const double *w, double *y);
void fedrt_conv2d_input_grad_f32(fedrt_context *ctx, const int64_t *geometry,
                                 const float *dy, const float *w, float *dx);
void fedrt_conv2d_input_grad_f64(fedrt_context *ctx, const int64_t *geometry,
                                 const double *dy, const double *w, double *dx);
void fedrt_conv2d_filter_grad_f32(fedrt_context *ctx, const int64_t *geometry,
                                  const float *x, const float *dy, float *dw);
void fedrt_conv2d_filter_grad_f64(fedrt_context *ctx, const int64_t *geometry,
                                  const double *x, const double *dy,
                                  double *dw);

/* Pooling (geometry's o unused): the max or the mean of each window's
 * in-bounds elements (padding never wins a max and is not counted in a
 * mean, as TensorFlow's "same" pooling). A max's gradient goes to the
 * first maximal element of its window in row-major order. */
void fedrt_max_pool2d_f32(const int64_t *geometry, const float *x, float *y);
void fedrt_max_pool2d_f64(const int64_t *geometry, const double *x, double *y);
void fedrt_max_pool2d_grad_f32(const int64_t *geometry, const float *x,
                               const float *dy, float *dx);
void fedrt_max_pool2d_grad_f64(const int64_t *geometry, const double *x,
                               const double *dy, double *dx);
void fedrt_avg_pool2d_f32(const int64_t *geometry, const float *x, float *y);
void fedrt_avg_pool2d_f64(const int64_t *geometry, const double *x, double *y);
void fedrt_avg_pool2d_grad_f32(const int64_t *geometry, const float *dy,
                               float *dx);
void fedrt_avg_pool2d_grad_f64(const int64_t *geometry, const double *dy,
                               double *dx);

/* embedding: out row i = table row ids[i] ([count] ids into a [rows, dim]
 * table). Returns FEDRT_NO_VALUES when every id is in [0, rows), else the
 * first id outside (and writes nothing). The gradient adds dy's rows into
 * dtable's (zeroed first) in index order. */
int64_t fedrt_embedding_f32(int64_t count, int64_t rows, int64_t dim,
                            const int32_t *ids, const float *table, float *out);
int64_t fedrt_embedding_f64(int64_t count, int64_t rows, int64_t dim,
                            const int32_t *ids, const double *table,
                            double *out);
void fedrt_embedding_grad_f32(int64_t count, int64_t rows, int64_t dim,
                              const int32_t *ids, const float *dy,
                              float *dtable);
void fedrt_embedding_grad_f64(int64_t count, int64_t rows, int64_t dim,
                              const int32_t *ids, const double *dy,
                              double *dtable);

/* layer_norm over the last axis of [count, dim] (Ba et al. 2016, no affine
 * part): (x - mean) / sqrt(var + 1e-5), mean and biased variance in f64.
 * The gradient recomputes the statistics from x. */
void fedrt_layer_norm_f32(int64_t count, int64_t dim, const float *x, float *y);
void fedrt_layer_norm_f64(int64_t count, int64_t dim, const double *x,
                          double *y);
void fedrt_layer_norm_grad_f32(int64_t count, int64_t dim, const float *x,
                               const float *dy, float *dx);
void fedrt_layer_norm_grad_f64(int64_t count, int64_t dim, const double *x,
                               const double *dy, double *dx);

/* dropout(x, rate, seed): out[i] = x[i] / (1 - rate) where the counter-based
 * uniform sample of (seed, i) is >= rate (random_uniform's stream), else 0.
 * Linear in x, so its gradient is dropout(dy, rate, seed). */
void fedrt_dropout_f32(int64_t seed, float rate, const float *x, float *out,
                       int64_t n);
void fedrt_dropout_f64(int64_t seed, double rate, const double *x, double *out,
                       int64_t n);

/* What codegen emits into every program (docs/abi.md, "The plan"): the
 * serialized fedrt.proto.Plan (plan.proto) and the function table its
 * indices refer to. */
extern const uint8_t fedrt_plan_bytes[];
extern const uint64_t fedrt_plan_size;
extern const fedrt_entry_fn fedrt_plan_functions[];
extern const uint64_t fedrt_plan_function_count;

#ifdef __cplusplus
}

/* The runtime functions generated code calls, for codegen to declare from
 * the prototypes above (X(name) per function). */
#define FEDRT_RUNTIME_FUNCTIONS(X)                                             \
  X(fedrt_arena_alloc)                                                         \
  X(fedrt_arena_mark)                                                          \
  X(fedrt_arena_release)                                                       \
  X(fedrt_fail)                                                                \
  X(fedrt_matmul_f32)                                                          \
  X(fedrt_matmul_f64)                                                          \
  X(fedrt_random_normal_f32)                                                   \
  X(fedrt_random_normal_f64)                                                   \
  X(fedrt_random_uniform_f32)                                                  \
  X(fedrt_random_uniform_f64)                                                  \
  X(fedrt_shuffle_rows)                                                        \
  X(fedrt_gather_rows)                                                         \
  X(fedrt_conv2d_f32)                                                          \
  X(fedrt_conv2d_f64)                                                          \
  X(fedrt_conv2d_input_grad_f32)                                               \
  X(fedrt_conv2d_input_grad_f64)                                               \
  X(fedrt_conv2d_filter_grad_f32)                                              \
  X(fedrt_conv2d_filter_grad_f64)                                              \
  X(fedrt_max_pool2d_f32)                                                      \
  X(fedrt_max_pool2d_f64)                                                      \
  X(fedrt_max_pool2d_grad_f32)                                                 \
  X(fedrt_max_pool2d_grad_f64)                                                 \
  X(fedrt_avg_pool2d_f32)                                                      \
  X(fedrt_avg_pool2d_f64)                                                      \
  X(fedrt_avg_pool2d_grad_f32)                                                 \
  X(fedrt_avg_pool2d_grad_f64)                                                 \
  X(fedrt_embedding_f32)                                                       \
  X(fedrt_embedding_f64)                                                       \
  X(fedrt_embedding_grad_f32)                                                  \
  X(fedrt_embedding_grad_f64)                                                  \
  X(fedrt_layer_norm_f32)                                                      \
  X(fedrt_layer_norm_f64)                                                      \
  X(fedrt_layer_norm_grad_f32)                                                 \
  X(fedrt_layer_norm_grad_f64)                                                 \
  X(fedrt_dropout_f32)                                                         \
  X(fedrt_dropout_f64)
#endif

#endif /* FEDRT_ABI_H */
