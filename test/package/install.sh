#!/usr/bin/env bash
# An installed fedc works alone, from any prefix: `make install` into a
# staging folder (DESTDIR), the tree moved elsewhere, and with only the
# system on PATH it compiles and runs the installed examples (one of them
# importing the stdlib), exactly as the build tree's fedc does. Taking away
# the installed stdlib or link list must break it: an installed fedc never
# falls back to the tree it was built from.
# usage: install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }

# Staged for /opt/fedc, then moved: the prefix it runs from is neither the
# one it was installed for nor anything the build knows.
make -s -C "$src" install BUILD_DIR="$build" PREFIX=/opt/fedc \
  DESTDIR="$tmp/stage" > "$tmp/install.log"
[ -x "$tmp/stage/opt/fedc/bin/fedc" ] || fail "DESTDIR staging put no bin/fedc"
mv "$tmp/stage/opt/fedc" "$tmp/fedc"
prefix=$tmp/fedc
for f in bin/fedc lib/libfedrt_main.a lib/libfedrt_core.a lib/libfedrt_plan.a \
         lib/libfedrt_secagg.a \
         lib/libfedrt.link include/fedrt/abi.h include/fedrt/Elements.def \
         share/fedc/stdlib/std/nn.fed share/doc/fedc/README.md \
         share/doc/fedc/docs/usage.md share/doc/fedc/examples/fedavg.fed \
         share/doc/fedc/examples/data/digits.csv.gz; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done

# The build tree is off PATH; fedc is found as the installed one.
export PATH="$prefix/bin:/usr/bin:/bin"
[ "$(command -v fedc)" = "$prefix/bin/fedc" ] || fail "fedc is $(command -v fedc)"
fedc --print-search-dirs > "$tmp/dirs"
cat "$tmp/dirs"
grep -q "^modules: =$prefix/share/fedc/stdlib\$" "$tmp/dirs" || fail "stdlib not under $prefix"
grep -q "^libraries: =$prefix/lib\$" "$tmp/dirs" || fail "runtime not under $prefix"
if grep -e "$build" -e "$src" "$tmp/dirs"; then fail "search dirs name the build or source tree"; fi

# FedAvg through std.nn (dense, cross_entropy) and grad, from the installed
# example and data.
examples=$prefix/share/doc/fedc/examples
mkdir "$tmp/work"
cd "$tmp/work"
cp "$examples/fedavg.fed" fedavg_nn.fed
grep -q "^import std.nn;" fedavg_nn.fed && grep -q "dense(x, m.w, m.b)" fedavg_nn.fed \
  || fail "the example changed: update this test"
flags=(--data "$examples/data/digits.csv.gz" --partition dirichlet:0.5
       --clients 20 --clients-per-round 5 --rounds 20 --eval-every 20 --seed 1)
fedc fedavg_nn.fed -o installed
./installed "${flags[@]}" --metrics installed.jsonl > installed.out
"$build/bin/fedc" fedavg_nn.fed -o built
./built "${flags[@]}" --metrics built.jsonl > built.out
cmp installed.out built.out || fail "installed and built fedc differ (stdout)"
# Metrics without the wall-clock times; and the model learned.
/usr/bin/python3 - <<'PY' || fail "metrics differ or FedAvg did not learn"
import json
def rounds(path):
    records = [json.loads(line) for line in open(path)]
    for r in records:
        r.pop("wall_ms", None)
    return records
installed, built = rounds("installed.jsonl"), rounds("built.jsonl")
assert installed == built, (installed, built)
assert installed[-1]["eval_accuracy"] >= 0.85, installed[-1]
PY
fedc run "$examples/mean_variance.fed" -- --data "$examples/data/values" > mv.out
"$build/bin/fedc" run "$examples/mean_variance.fed" -- --data "$examples/data/values" > mv.built
cmp mv.out mv.built || fail "mean_variance differs"

# The installed language server finds the installed stdlib too: a file
# importing std.nn has no diagnostics.
/usr/bin/python3 - <<'PY' || fail "fedc lsp does not find the installed stdlib"
import json, subprocess
def framed(m):
    body = json.dumps(m).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body
text = "import std.nn;\nfn f(x: f32[2, 3], w: f32[3, 4], b: f32[4]) -> f32[2, 4] { return dense(x, w, b); }\n"
stream = framed({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
stream += framed({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
    "uri": "untitled:nn", "languageId": "fed", "version": 1, "text": text}}})
stream += framed({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
stream += framed({"jsonrpc": "2.0", "method": "exit"})
out = subprocess.run(["fedc", "lsp"], input=stream, capture_output=True, check=True).stdout
assert b'"diagnostics":[]' in out, out
PY

# The installed headers compile on their own.
echo '#include <fedrt/abi.h>' | c++ -std=c++20 -fsyntax-only -x c++ -I "$prefix/include" -

# No fallback: without the installed stdlib or link list, fedc fails and
# names the installed paths.
mv "$prefix/share/fedc/stdlib" "$prefix/share/fedc/stdlib.away"
if fedc -fsyntax-only fedavg_nn.fed 2> err.txt; then fail "compiled without the installed stdlib"; fi
grep -q "cannot find module 'std.nn' (searched $prefix/share/fedc/stdlib/std/nn.fed)" err.txt \
  || fail "unexpected: $(cat err.txt)"
mv "$prefix/share/fedc/stdlib.away" "$prefix/share/fedc/stdlib"
mv "$prefix/lib/libfedrt.link" "$prefix/lib/libfedrt.link.away"
if fedc "$examples/mean_variance.fed" -o mv 2> err.txt; then fail "linked without the installed link list"; fi
grep -q "runtime's link list $prefix/lib/libfedrt.link is missing" err.txt \
  || fail "unexpected: $(cat err.txt)"
echo "install test: ok ($prefix)"
