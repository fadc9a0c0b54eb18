// Reverse-mode automatic differentiation of local fns, source to source on
// the typed program: the bodies of the adjoint fns that sema declared for
// `grad(f)` and `value_and_grad(f)` (sema::Program::adjoints). An adjoint
// is an ordinary typed local fn — the forward computation, then the reverse
// sweep as `let`s, `var` accumulators, `if`s and `for`s — so code
// generation compiles it with the same fusion, GEMM kernels and
// vectorization as hand-written code, and `fedc --emit=typed` shows it.
// The rules for what differentiates are in docs/language.md, "Gradients".
#pragma once

#include "basic/DiagnosticEngine.h"
#include "sema/TypedAST.h"

namespace fedc::autodiff {

// Writes the body of every requested adjoint. A construct that cannot be
// differentiated (a `while` loop, a float variable a `for` loop carries
// other than by accumulation, `%` on floats, ...) is reported as
// [NotDifferentiable] at the construct, with a note where the gradient was
// requested. Adjoints of fns with errors are left empty.
void synthesizeAdjoints(sema::Program &program, DiagnosticEngine &diags);

} // namespace fedc::autodiff
