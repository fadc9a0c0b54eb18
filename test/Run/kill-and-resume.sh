#!/bin/bash
# Kills a FedAvg run with SIGKILL part-way, resumes it from its checkpoint,
# and checks the final state is bit-identical to an uninterrupted run of
# the same number of rounds.
# usage: kill-and-resume.sh PROGRAM WORKDIR ARGS...
set -eu
program=$1 work=$2
shift 2
rm -rf "$work" && mkdir -p "$work"
# Long enough to be killed part-way; at least one round completes first.
timeout -s KILL 1 "$program" "$@" --rounds 1000000 --checkpoint "$work/killed" \
  --metrics "$work/killed.jsonl" >/dev/null 2>&1 && { echo "not killed"; exit 1; }
test -f "$work/killed/state.ckpt" || { echo "no checkpoint before the kill"; exit 1; }
done_rounds=$(tail -n 1 "$work/killed.jsonl" | sed 's/{"round": \([0-9]*\).*/\1/')
rounds=$((done_rounds + 3))
"$program" "$@" --rounds "$rounds" --checkpoint "$work/killed" --resume >/dev/null
"$program" "$@" --rounds "$rounds" --checkpoint "$work/straight" >/dev/null
cmp "$work/killed/state.ckpt" "$work/straight/state.ckpt"
echo "resumed after round $done_rounds: identical after $rounds rounds"
