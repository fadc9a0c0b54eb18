// federated_secure_mean (docs/secure-aggregation.md): a mean of float
// client values through SecAgg+. Each client's (weighted) value is clipped
// to [-range, range] and stochastically rounded to `bits` bits where the
// client runs; the integers are summed securely and the sum dequantized at
// the server. The range and the bits fix the encoding and the error bound
// before the run, so they are constants checked here.
#include "sema/Checker.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

namespace fedc::sema {

namespace {

// Quantized values of at most 48 bits leave room in SecAgg+'s 63-bit
// masking word for the sum of 2^14 clients (the modulus is 2^(bits +
// ceil(log2 n) + 1)); more bits than float64's 53 would be noise anyway.
constexpr int64_t kMaxBits = 48;

} // namespace

bool Checker::secureMeanParameter(IntrinsicCallExpr &call, const ast::Arg &a) {
  const std::string &name = a.name->name;
  ExprPtr v = check(*a.value);
  if (containsError(v->type))
    return false;
  if (name == "weight")
    return weightArgument(call, std::move(v), "federated_secure_mean");
  std::optional<double> x =
      constantKeyword(*v, name, DiagId::SecureMeanParameterNotConstant);
  if (!x)
    return false;
  auto outOfRange = [&](const char *expected, const std::string &found) {
    diags_.report(v->range, DiagId::SecureMeanParameterOutOfRange)
        .arg(name)
        .arg(expected)
        .arg(found);
    return false;
  };
  if (name == "range") {
    // 2 x range is the quantization's span: it must be a finite float64.
    if (!(*x > 0) || !std::isfinite(2 * *x))
      return outOfRange("a positive finite number (values are clipped to "
                        "[-range, range])",
                        fmt::format("{}", *x));
    call.secureRange = *x;
    return true;
  }
  std::optional<int64_t> bits = integerConstant(*v);
  if (!bits)
    return outOfRange("an integer from 1 to 48", formatType(v->type));
  if (*bits < 1 || *bits > kMaxBits)
    return outOfRange("an integer from 1 to 48", std::to_string(*bits));
  call.bitwidth = static_cast<int>(*bits);
  return true;
}

ExprPtr Checker::checkSecureMean(const ast::CallExpr &e, Intrinsic i,
                                 std::vector<ExprPtr> args) {
  const std::string name = "federated_secure_mean";
  std::set<std::string> given;
  std::unique_ptr<IntrinsicCallExpr> call = floatMeanCall(
      e, i, std::move(args), name, DiagId::SecureMeanNonFloatMember,
      &Checker::secureMeanParameter, given);
  if (!call)
    return errorExpr(e.range());
  for (auto [param, what] :
       {std::pair{"range", "range: R (each client's value is clipped to "
                           "[-R, R] before it is quantized)"},
        std::pair{"bits", "bits: B (each value is rounded to one of 2^B "
                          "levels of [-R, R]; 16 is a common choice)"}})
    if (!given.count(param)) {
      diags_.report(e.range(), DiagId::SecureMeanMissingParameter).arg(what);
      return errorExpr(e.range());
    }
  return call;
}

} // namespace fedc::sema
