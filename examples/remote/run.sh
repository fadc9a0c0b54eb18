#!/usr/bin/env bash
# A cluster on one machine: a coordinator and two workers on loopback, each
# worker holding a different half of the digits data split into 10 clients,
# training examples/fedavg.fed for 20 rounds (docs/remote.md).
# usage: examples/remote/run.sh [FEDC]   (default: build/bin/fedc)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fedc=${1:-$root/build/bin/fedc}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$fedc" "$root/examples/fedavg.fed" -o "$work/fedavg"
# Each site's own data: the odd and the even rows.
zcat "$root/examples/data/digits.csv.gz" | awk 'NR % 2 == 1' > "$work/site-a.csv"
zcat "$root/examples/data/digits.csv.gz" | awk 'NR % 2 == 0' > "$work/site-b.csv"

"$work/fedavg" serve --listen 127.0.0.1:0 --port-file "$work/port" --insecure \
  --min-workers 2 --rounds 20 --clients-per-round 8 --eval-every 5 --seed 1 \
  --progress always &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
for site in a b; do
  "$work/fedavg" worker --connect "127.0.0.1:$port" --insecure \
    --name "site-$site" --data "$work/site-$site.csv" --partition iid \
    --clients 10 &
  pids+=($!)
done
wait "${pids[0]}"
