#!/usr/bin/env bash
# Runs the benchmarks on demand (never part of the test suite): installs
# the peers (cfssl), builds an optimised daemon, prints ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/deps.sh bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target amtcertd >/dev/null
export AMTCERTD_BIN=$PWD/build-bench/amtcertd AMTCERTD_SRC=$PWD
python3 tests/bench/keygen.py
echo
python3 tests/bench/inspect.py
python3 tests/bench/pfx.py
python3 tests/bench/orders.py
echo
python3 tests/bench/server.py
