#!/usr/bin/env python3
"""Runs codegen_bench and prints generated-code time / Eigen time per kernel.

Usage: run_codegen_bench.py BUILD_DIR"""
import json
import subprocess
import sys

binary = f"{sys.argv[1]}/bin/codegen_bench"
out = subprocess.run([binary, "--benchmark_format=json", "--benchmark_min_time=0.5",
                      "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                     capture_output=True, text=True, check=True)
times = {}
for b in json.loads(out.stdout)["benchmarks"]:
    if b.get("aggregate_name") == "median":
        times[b["run_name"]] = b["real_time"]
print(f"{'kernel':<16} {'fedc (ns)':>12} {'Eigen (ns)':>12} {'fedc/Eigen':>11}")
for kernel in ("Chain", "LogRegStep"):
    g, e = times[f"BM_{kernel}Generated"], times[f"BM_{kernel}Eigen"]
    print(f"{kernel:<16} {g:>12.0f} {e:>12.0f} {g / e:>11.2f}")
