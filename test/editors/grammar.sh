#!/usr/bin/env bash
# Runs grammar_test.js with VS Code's TextMate engine, installed from the
# npm registry (versions pinned by package-lock.json) into the build tree
# once. Skipped (77) when Node or npm is missing or the registry cannot be
# reached.
# usage: grammar.sh BUILD_DIR SOURCE_DIR [--update]
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
shift 2
here=$src/test/editors
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "grammar test: skipped (no node or npm)"
  exit 77
fi
deps=$build/test/editors/node
if ! cmp -s "$here/package-lock.json" "$deps/package-lock.json" ||
   [ ! -d "$deps/node_modules/vscode-textmate" ]; then
  mkdir -p "$deps"
  cp "$here/package.json" "$here/package-lock.json" "$deps/"
  if ! (cd "$deps" && timeout 300 npm ci --no-audit --no-fund --fetch-retries=1 \
          --fetch-timeout=30000 > npm.log 2>&1); then
    tail -5 "$deps/npm.log"
    rm -f "$deps/package-lock.json" # retry next time
    echo "grammar test: skipped (npm could not install the TextMate engine)"
    exit 77
  fi
fi
exec node "$here/grammar_test.js" "$src" "$build/bin/fedc" "$deps/node_modules" "$@"
