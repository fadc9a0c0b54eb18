#!/usr/bin/env bash
# Regenerates docs/fedavg-curves.svg: the README's FedAvg run (digits split
# Dirichlet(0.5) over 50 clients, 10 per round, 50 rounds, eval every 10,
# seed 1) with --eval-initial (the curves start at round 0) and
# --per-client-metrics (the worst and 10th-percentile client), overlaid
# with the same run on an IID split, drawn by the compiled program's `plot`.
# Usage: scripts/plot-readme-run.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build/bin/fedc" "$root/examples/fedavg.fed" -o "$work/fedavg"
for split in dirichlet:0.5 iid; do
  name="${split%%:*}"
  "$work/fedavg" --data "$root/examples/data/digits.csv.gz" \
    --partition "$split" --clients 50 --clients-per-round 10 \
    --rounds 50 --eval-every 10 --seed 1 --eval-initial --no-timing \
    --metrics "$work/$name.jsonl" \
    --per-client-metrics "$work/$name-clients.jsonl" > /dev/null
done
"$work/fedavg" plot "$work/dirichlet.jsonl" "$work/iid.jsonl" \
  --only eval_loss,eval_accuracy,eval_accuracy_p10,eval_accuracy_min \
  -o "$root/docs/fedavg-curves.svg"
echo "wrote docs/fedavg-curves.svg"
