#!/bin/bash
# Runs every example with fixed flags and writes what it prints (stdout, and
# the metrics file of processes, without timing) into OUT. test/Run/golden-
# outputs.test compares OUT with the files next to this script; after an
# intended change of a printed number, regenerate them with
#   test/Run/Inputs/golden/run.sh build/bin/fedc test/Run/Inputs/golden/expected
# and read the diff before committing it.
# usage: run.sh FEDC OUT
set -eu
fedc=$1 out=$2
root=$(cd "$(dirname "$0")/../../../.." && pwd)
ex=$root/examples
mkdir -p "$out"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
"$fedc" "$ex/fedavg.fed" -o "$bin/fedavg"
"$bin/fedavg" --data "$ex/data/digits.csv.gz" --partition dirichlet:0.5 \
  --clients 30 --clients-per-round 7 --rounds 12 --eval-every 4 --seed 2 \
  --threads 2 --no-timing --metrics "$out/fedavg.jsonl" --print-state > "$out/fedavg.out"
"$fedc" "$ex/fedavg_mlp.fed" -o "$bin/fedavg_mlp"
"$bin/fedavg_mlp" --data "$ex/data/digits.csv.gz" --partition dirichlet:0.5 \
  --clients 30 --clients-per-round 7 --rounds 6 --eval-every 3 --seed 2 \
  --threads 2 --no-timing --metrics "$out/fedavg_mlp.jsonl" > "$out/fedavg_mlp.out"
"$fedc" "$ex/fedsgd_linear.fed" -o "$bin/sgd"
"$bin/sgd" --data "$ex/data/linear" --rounds 20 --clients-per-round 3 --seed 4 \
  --no-timing --metrics "$out/fedsgd_linear.jsonl" --print-state > "$out/fedsgd_linear.out"
"$fedc" "$ex/dp_fedavg.fed" -o "$bin/dp_fedavg"
"$bin/dp_fedavg" --data "$ex/data/digits.csv.gz" --partition iid --clients 30 \
  --clients-per-round 6 --rounds 5 --eval-every 5 --seed 2 --dp-seed 3 \
  --threads 2 --no-timing --metrics "$out/dp_fedavg.jsonl" --print-state \
  > "$out/dp_fedavg.out" 2> /dev/null
for e in average_temperature:temperatures sensor_proportion:readings \
         mean_variance:values histogram:values; do
  name=${e%%:*} data=${e##*:}
  "$fedc" "$ex/$name.fed" -o "$bin/$name"
  "$bin/$name" --data "$ex/data/$data" > "$out/$name.out"
done
