// Per-client evaluation metrics and their summary (fedrt/ClientMetrics.h).
#include "fedrt/ClientMetrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace fedrt {

namespace {

// The shortest text that reads back as `v` in the metric's own precision
// (an f32 metric's summary as an f32; "inf" as a JSON string).
std::string jsonNumber(double v, bool f32) {
  if (std::isinf(v))
    return v > 0 ? "\"inf\"" : "\"-inf\"";
  char text[32];
  auto [end, ec] =
      f32 ? std::to_chars(text, text + sizeof text, static_cast<float>(v))
          : std::to_chars(text, text + sizeof text, v);
  return ec == std::errc() ? std::string(text, end) : "0";
}

} // namespace

double percentile(const std::vector<double> &sorted, double p) {
  double at = p / 100.0 * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<size_t>(std::floor(at));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = at - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

std::vector<std::pair<std::string, std::string>>
clientMetricSummary(const TypeDesc &type,
                    const std::vector<HostValue> &perClient) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t leaf = 0;
  for (size_t i = 0; i < type.children.size(); ++i) {
    std::vector<const TypeDesc *> leaves;
    type.children[i].tensorLeaves(leaves);
    size_t first = leaf;
    leaf += leaves.size();
    if (leaves.size() != 1 || !leaves[0]->dims.empty())
      continue; // only scalar metrics are summarized
    std::vector<double> values;
    for (const HostValue &v : perClient)
      if (double x = v.leaves.at(first).get(0); !std::isnan(x))
        values.push_back(x);
    if (values.empty())
      continue;
    std::sort(values.begin(), values.end());
    const std::string name = "eval_" + type.fields[i];
    bool f32 = leaves[0]->element == Element::F32;
    out.emplace_back(name + "_min", jsonNumber(values.front(), f32));
    out.emplace_back(name + "_p10", jsonNumber(percentile(values, 10), f32));
    out.emplace_back(name + "_p90", jsonNumber(percentile(values, 90), f32));
    out.emplace_back(name + "_max", jsonNumber(values.back(), f32));
  }
  return out;
}

std::string perClientMetricsRefusal(const Computation &eval) {
  for (const Stage &s : eval.stages)
    for (const Aggregation &a : s.aggregations)
      if (a.kind == Aggregation::Kind::SecureSum ||
          a.kind == Aggregation::Kind::DpMean)
        return std::string("--per-client-metrics would run '") + eval.name +
               "' over one client at a time, but it aggregates with " +
               aggregationName(a.kind) +
               ", whose point is that no single client's value is seen";
  return "";
}

} // namespace fedrt
