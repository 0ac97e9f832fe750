#!/usr/bin/env bash
# Installs the Debian 12 packages amtcertd needs that are missing.
#   scripts/deps.sh run    build and run the daemon
#   scripts/deps.sh test   also everything the test suite uses
#   scripts/deps.sh bench  also the peers the benchmarks compare with
set -euo pipefail

run_pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libgnutls28-dev
	libjansson-dev libsqlite3-dev libarchive-dev)
test_pkgs=(clang clang-format libclang-rt-14-dev libcmocka-dev gnutls-bin
	openssl python3 python3-pytest python3-yaml sqlite3 curl)

bench_pkgs=(golang-cfssl python3 curl)

want=("${run_pkgs[@]}")
case "${1:-run}" in
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${bench_pkgs[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	sudo_cmd=()
	[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
	"${sudo_cmd[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}"
fi
