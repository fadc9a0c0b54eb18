#!/usr/bin/env bash
# Builds the fuzzers with clang + libFuzzer + ASan/UBSan and runs each for a
# bounded time. Usage: scripts/fuzz.sh [BUILD_DIR] [SECONDS_PER_FUZZER]
# Seeds: every .fed file in the tree, the data files, and each target's
# regressions (the language server's: editing sessions and malformed
# messages). A crash leaves its input in BUILD_DIR/artifacts; add it to
# the target's regression folder (test/fuzz/) with a fix. Exits non-zero
# when a fuzzer finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-60}

if [ ! -f "$build/build.ninja" ]; then
  CC=clang-19 CXX=clang++-19 cmake -S . -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEDC_FUZZ=ON
fi
cmake --build "$build" --target fedc_frontend_fuzzer fedrt_data_fuzzer \
  fedc_lsp_fuzzer fedrt_remote_fuzzer
mkdir -p "$build/artifacts"

# The front end: lexer to machine code.
corpus="$build/corpus"
mkdir -p "$corpus"
git ls-files '*.fed' | while read -r f; do cp "$f" "$corpus/seed-$(echo "$f" | tr / _)"; done
cp test/fuzz/regressions/* "$corpus/" 2>/dev/null || true
"$build/bin/fedc_frontend_fuzzer" "$corpus" \
  -dict=test/fuzz/fed.dict -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
  -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/"

# The data loaders.
data_corpus="$build/data-corpus"
mkdir -p "$data_corpus"
cp test/fuzz/data-regressions/* "$data_corpus/"
git ls-files 'examples/data/*.csv' 'test/Run/Inputs/*' | head -50 |
  while read -r f; do [ -f "$f" ] && cp "$f" "$data_corpus/seed-$(echo "$f" | tr / _)"; done
"$build/bin/fedrt_data_fuzzer" "$data_corpus" -max_len=4096 -timeout=10 \
  -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/data-"

# The language server's message handling (fedc lsp).
lsp_corpus="$build/lsp-corpus"
mkdir -p "$lsp_corpus"
cp test/fuzz/lsp-regressions/* "$lsp_corpus/"
"$build/bin/fedc_lsp_fuzzer" "$lsp_corpus" -dict=test/fuzz/lsp.dict \
  -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
  -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/lsp-"

# The remote protocol's decoders (what a coordinator or worker reads from
# the network).
remote_corpus="$build/remote-corpus"
mkdir -p "$remote_corpus"
cp test/fuzz/remote-regressions/* "$remote_corpus/"
"$build/bin/fedrt_remote_fuzzer" "$remote_corpus" -max_len=65536 -timeout=10 \
  -rss_limit_mb=4096 -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/remote-"

# Generated code against a reference evaluator: random integer and float
# expressions through `fedc call` (the normal build's fedc, which `make
# test` built), new seeds every run.
fedc=${FEDC:-build/bin/fedc}
if [ -x "$fedc" ]; then
  "${PYTHON:-/usr/bin/python3}" test/Exec/Inputs/random_expressions.py \
    "$fedc" "$(date +%s)" 0 --seconds "$seconds" --keep "$build/expressions"
else
  echo "fuzz.sh: $fedc not built; skipping the generated-code property test" >&2
fi
