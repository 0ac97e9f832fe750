#!/usr/bin/env bash
# Installs what is missing, builds, and starts the daemon on its defaults
# (state in ./amtcertd-state, dashboard on http://127.0.0.1:8080/).
# Extra arguments go to `amtcertd serve`, e.g. --listen 127.0.0.1:9000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh run
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target amtcertd
exec ./build/amtcertd serve "$@"
