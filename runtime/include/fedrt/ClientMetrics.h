// Each evaluated client's metrics (--per-client-metrics, docs/runtime.md,
// "Looking at a run"): for fairness and personalization a run reports not
// only the mean over clients but how the worst-off clients fare. Eval runs
// once per client (a cohort of one: whatever eval aggregates, its result
// is then that client's), and every scalar metric gets its minimum, 10th
// and 90th percentiles and maximum over the clients in the round's record.
#pragma once

#include "fedrt/Plan.h"
#include "fedrt/Value.h"

#include <string>
#include <utility>
#include <vector>

namespace fedrt {

// The p-th percentile (0..100) of ascending `sorted` (non-empty), linearly
// interpolated between ranks: NumPy's default (`np.percentile`).
double percentile(const std::vector<double> &sorted, double p);

// `eval_<m>_min`, `eval_<m>_p10`, `eval_<m>_p90` and `eval_<m>_max` for
// every scalar field m of the metrics struct `type`, over `perClient` (one
// metrics value per evaluated client; NaNs are left out, and a metric that
// is NaN at every client gets none). Values as JSON numbers in the
// metric's precision (an f32 metric's percentiles rounded to f32; "inf"
// and "-inf" as strings, as toJson writes them).
std::vector<std::pair<std::string, std::string>>
clientMetricSummary(const TypeDesc &type,
                    const std::vector<HostValue> &perClient);

// Why `eval` cannot report per-client metrics, or "": an aggregation whose
// point is that no single client's value is seen (federated_secure_sum,
// federated_dp_mean) would be run over one client.
std::string perClientMetricsRefusal(const Computation &eval);

} // namespace fedrt
