"""The metrics client-visits.fed must report, from the cohorts its run
dumped (--dump-partition): each client's state (n, seen) starts at
client_init's (0, 0) and, in each round r it takes part in, becomes
(n + 1, seen + records * r); next sums the cohort's new states, eval (run
after every round) everyone's. Prints OK or the first difference.

usage: client_visits_check.py PARTITION_JSON METRICS_JSONL"""
import json
import sys


def main():
    plan = json.load(open(sys.argv[1]))
    # Record counts (files as clients), or each client's record indices.
    records = [c if isinstance(c, int) else len(c) for c in plan["clients"]]
    state = {}
    lines = [json.loads(l) for l in open(sys.argv[2])]
    assert len(lines) == len(plan["cohorts"]), (len(lines), len(plan["cohorts"]))
    for r, (cohort, got) in enumerate(zip(plan["cohorts"], lines), start=1):
        for c in cohort:
            n, seen = state.get(c, (0, 0))
            state[c] = (n + 1, seen + records[c] * r)
        want = {"round": r,
                "visits": sum(state[c][0] for c in cohort),
                "seen": sum(state[c][1] for c in cohort),
                "eval_visits": sum(n for n, _ in state.values()),
                "eval_seen": sum(s for _, s in state.values())}
        for k, v in want.items():
            if got.get(k) != v:
                sys.exit(f"round {r}: {k} is {got.get(k)}, expected {v}")
    print("OK", len(lines), "rounds")


if __name__ == "__main__":
    main()
