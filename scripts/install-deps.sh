#!/usr/bin/env bash
# Installs the Debian 12 packages fedc needs to build, test and benchmark.
# Idempotent: installs only what is missing, and does nothing when all is there.
set -euo pipefail

PACKAGES=(
  # build tools
  cmake ninja-build make pkg-config git
  # compiler back end and test tools (lit, FileCheck, not)
  llvm-19-dev llvm-19-tools clang-19 libclang-rt-19-dev
  # the linker fedc has the C++ driver use for programs (runtime/CMakeLists.txt)
  lld-19
  # front end
  antlr4 libantlr4-runtime-dev
  # libraries
  libeigen3-dev libfmt-dev libcli11-dev zlib1g-dev libzstd-dev libsodium-dev libzip-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libabsl-dev nlohmann-json3-dev libcsv-dev
  # tests and benchmarks (oneDNN: the convolution peer of bench/conv_bench)
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-numpy time
  libdnnl-dev
  # the McMahan et al. examples' data (examples/mnist_*.fed, bench/)
  dataset-fashion-mnist
  # the gradient-check suite (test/Grad) and bench/'s PyTorch peer
  python3-torch
  # test/Remote: certificates made at test time, network namespaces, tbf
  openssl util-linux iproute2
  # the debug-info test steps through a .fed fn
  gdb g++
  # the Debian package: CPack's Depends from dpkg-shlibdeps, which needs file
  dpkg-dev file
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine (a container or cloud image) may have no package lists
# yet: refresh them first then; otherwise only when an install fails.
if ! compgen -G "/var/lib/apt/lists/*_Packages" > /dev/null; then
  $SUDO apt-get update
fi
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
