#!/usr/bin/env bash
# Installs what amtcertd needs that is missing on a Debian 12 machine.
#   scripts/deps.sh run    build and run the daemon
#   scripts/deps.sh test   also everything the test suite uses (Debian
#                          packages, and the npm packages of the browser
#                          and node-forge tests, from their lock files)
#   scripts/deps.sh bench  also the peers the benchmarks compare with
set -euo pipefail
cd "$(dirname "$0")/.."

run_pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libgnutls28-dev
	libjansson-dev libsqlite3-dev libarchive-dev libssl-dev ca-certificates)
test_pkgs=(clang clang-format libclang-rt-14-dev libcmocka-dev gnutls-bin
	openssl python3 python3-pytest python3-yaml python3-jsonschema sqlite3 curl chromium
	golang-go golang-sslmate-src-go-pkcs12-dev)
bench_pkgs=(golang-cfssl wrk python3 curl)

want=("${run_pkgs[@]}")
case "${1:-run}" in
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${bench_pkgs[@]}" "${test_pkgs[@]}") ;;
esac
# node and npm: Debian's, unless the machine has them already
if [ "${1:-run}" != run ] && ! command -v npm >/dev/null 2>&1; then
	want+=(nodejs npm)
fi

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

if [ "${1:-run}" != run ]; then
	# exact versions from the lock files; nothing is downloaded at test time
	for dir in . tests/interop/forge; do
		if [ -f "$dir/package-lock.json" ] &&
			{ [ ! -d "$dir/node_modules" ] ||
				[ "$dir/package-lock.json" -nt "$dir/node_modules" ]; }; then
			echo "deps: npm ci in $dir"
			(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
			touch "$dir/node_modules"
		fi
	done
fi
