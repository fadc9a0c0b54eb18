// federated_dp_mean (docs/privacy.md): a mean whose every client value is
// clipped to an L2 norm and whose sum gets Gaussian noise once. Its
// parameters fix the privacy guarantee, so they are constants checked
// here; the value must be floating-point (a clip of integers would round
// away the bound) and per client, never raw data.
#include "sema/Checker.h"

#include <fmt/format.h>
#include <llvm/Support/Casting.h>

#include <cmath>
#include <set>

namespace fedc::sema {

using llvm::dyn_cast;

namespace {

struct ParameterRule {
  const char *name;
  double DpParameters::*field;
  bool (*ok)(double);
  const char *expected;
};

constexpr ParameterRule kRules[] = {
    {"clip", &DpParameters::clip, [](double x) { return x > 0; },
     "a positive number (an L2 norm)"},
    {"noise_multiplier", &DpParameters::noiseMultiplier,
     [](double x) { return x >= 0; }, "a number >= 0"},
    {"target_quantile", &DpParameters::targetQuantile,
     [](double x) { return x >= 0 && x <= 1; }, "from 0 to 1"},
    {"clip_learning_rate", &DpParameters::clipLearningRate,
     [](double x) { return x > 0; }, "a positive number"},
    {"clipped_count_stddev", &DpParameters::clippedCountStddev,
     [](double x) { return x >= 0; }, "a number >= 0"},
    {"max_weight", &DpParameters::maxWeight, [](double x) { return x > 0; },
     "a positive number"},
};

} // namespace

bool Checker::dpParameter(IntrinsicCallExpr &call, const ast::Arg &a) {
  const std::string &name = a.name->name;
  ExprPtr v = check(*a.value);
  if (containsError(v->type))
    return false;
  if (name == "weight")
    return weightArgument(call, std::move(v), "federated_dp_mean");
  std::optional<double> x =
      constantKeyword(*v, name, DiagId::DpParameterNotConstant);
  if (!x)
    return false;
  for (const ParameterRule &rule : kRules) {
    if (name != rule.name)
      continue;
    if (!std::isfinite(*x) || !rule.ok(*x)) {
      diags_.report(v->range, DiagId::DpParameterOutOfRange)
          .arg(name)
          .arg(rule.expected)
          .arg(fmt::format("{}", *x));
      return false;
    }
    call.dp.*rule.field = *x;
  }
  if (name == "target_quantile")
    call.dp.adaptive = true;
  return true;
}

std::unique_ptr<IntrinsicCallExpr> Checker::floatMeanCall(
    const ast::CallExpr &e, Intrinsic i, std::vector<ExprPtr> args,
    const std::string &name, DiagId nonFloat,
    bool (Checker::*parameter)(IntrinsicCallExpr &, const ast::Arg &),
    std::set<std::string> &given) {
  const PlacedType *p = soleAggregationInput(e, name, args);
  if (!p)
    return nullptr;
  Expr &x = *args[0];
  std::string leaf = firstOffendingLeaf(
      p->member, [](const TensorType *t) { return t->isFloat(); });
  if (!leaf.empty()) {
    diags_.report(x.range, nonFloat).arg(describeLeaf(leaf, p->member));
    return nullptr;
  }
  if (!requireStaticShape(x, p->member, name))
    return nullptr;
  auto call = std::make_unique<IntrinsicCallExpr>(
      types_.placed(p->member, Placement::Server, true), e.range(), i,
      std::move(args));
  call->placementOrigin = e.range();
  for (const ast::Arg &a : e.args) {
    if (!a.name)
      continue;
    if (!given.insert(a.name->name).second) {
      diags_.report(a.name->range, DiagId::DuplicateArgument).arg(a.name->name);
      return nullptr;
    }
    if (!(this->*parameter)(*call, a))
      return nullptr;
  }
  return call;
}

ExprPtr Checker::checkDpMean(const ast::CallExpr &e, Intrinsic i,
                             std::vector<ExprPtr> args) {
  const std::string name = "federated_dp_mean";
  std::set<std::string> given;
  std::unique_ptr<IntrinsicCallExpr> call =
      floatMeanCall(e, i, std::move(args), name, DiagId::DpNonFloatMember,
                    &Checker::dpParameter, given);
  if (!call)
    return errorExpr(e.range());
  auto missing = [&](const char *what) {
    diags_.report(e.range(), DiagId::DpMissingParameter).arg(what);
    return errorExpr(e.range());
  };
  auto without = [&](const char *param, const char *what) {
    diags_.report(e.range(), DiagId::DpParameterWithout).arg(param).arg(what);
    return errorExpr(e.range());
  };
  const DpParameters &dp = call->dp;
  if (!given.count("noise_multiplier"))
    return missing("noise_multiplier: z (the noise's standard deviation "
                   "over the clip; 0 for none)");
  if (!given.count("clip") && !dp.adaptive)
    return missing("clip: C (the L2 norm each client's value is clipped "
                   "to), or target_quantile: Q to adapt the clip");
  for (const char *param : {"clip_learning_rate", "clipped_count_stddev"})
    if (given.count(param) && !dp.adaptive)
      return without(param, "to adaptive clipping: add target_quantile: Q "
                            "(e.g. 0.5)");
  if (call->weighted && dp.maxWeight == 0)
    return missing("max_weight: W with weight: (the largest weight a client "
                   "counts with; the sensitivity is W x clip)");
  if (!call->weighted && dp.maxWeight > 0)
    return without("max_weight", "to the weighted form: add weight: w");
  if (dp.adaptive && dp.clippedCountStddev >= 0 && dp.noiseMultiplier > 0 &&
      dp.noiseMultiplier >= 2 * dp.clippedCountStddev) {
    diags_.report(e.range(), DiagId::DpNoiseSplit)
        .arg(fmt::format("{}", dp.noiseMultiplier))
        .arg(fmt::format("{}", 2 * dp.clippedCountStddev));
    return errorExpr(e.range());
  }
  return call;
}

} // namespace fedc::sema
