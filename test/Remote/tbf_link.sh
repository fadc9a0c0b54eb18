#!/bin/bash
# Runs inside `unshare -rn` (bandwidth_test.py tbf_link): the coordinator
# in this namespace, three workers in a child namespace joined by a veth
# pair, both directions shaped to 8 mbit/s by tc tbf. Writes tbf.out.
# usage: tbf_link.sh PROGRAM TMP. Exit 77 when the link cannot be made.
set -u
prog=$1 tmp=$2
ip link set lo up || exit 77
unshare -n sleep 300 &
inner=$!
trap 'kill -9 $inner $(jobs -p) 2>/dev/null' EXIT
sleep 0.2
in_inner() { nsenter -t "$inner" -n --preserve-credentials "$@"; }
ip link add v0 type veth peer name v1 && ip link set v1 netns "$inner" || exit 77
ip addr add 10.77.0.1/24 dev v0 && ip link set v0 up
in_inner ip addr add 10.77.0.2/24 dev v1
in_inner ip link set v1 up
in_inner ip link set lo up
tc qdisc add dev v0 root tbf rate 8mbit burst 32kbit latency 400ms || exit 77
in_inner tc qdisc add dev v1 root tbf rate 8mbit burst 32kbit latency 400ms || exit 77
rm -f "$tmp/tbf.port"
timeout 200 "$prog" serve --listen 10.77.0.1:0 --port-file "$tmp/tbf.port" \
  --insecure --min-workers 3 --rounds 3 --clients-per-round 0 --seed 1 \
  --no-timing --print-state > "$tmp/tbf.out" 2> "$tmp/tbf-coordinator.err" &
serve=$!
for _ in $(seq 100); do [ -f "$tmp/tbf.port" ] && break; sleep 0.1; done
port=$(cat "$tmp/tbf.port") || exit 1
for w in w1 w2 w3; do
  in_inner timeout 200 "$prog" worker --connect "10.77.0.1:$port" --insecure \
    --name "$w" --data "$tmp/$w" 2> "$tmp/tbf-$w.err" > /dev/null &
done
wait "$serve"
status=$?
[ "$status" -eq 0 ] || cat "$tmp/tbf-coordinator.err" >&2
exit "$status"
