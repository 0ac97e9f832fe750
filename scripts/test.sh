#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: a gcc build and a
# clang build with ASan+UBSan, both -Werror, plus the clang-format check,
# the reliability suite (tests/reliability) and the fuzzers.
# Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 1

passed=0
failed=0
step() { # name, command...
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok"
	else
		failed=$((failed + 1))
		echo "=== $name: FAILED"
	fi
}

format_check() {
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror
}

build() { # dir, compiler, extra cmake args...
	local dir=$1 cc=$2
	shift 2
	CC=$cc cmake -S . -B "$dir" -DAMTCERTD_WERROR=ON "$@" >/dev/null &&
		cmake --build "$dir" -j"$(nproc)"
}

run_ctest() { # dir
	(cd "$1" && ctest --output-on-failure)
}

fuzz() { # target: bounded run on a scratch copy of the seed corpus
	local corpus
	corpus=$(mktemp -d)
	cp tests/fuzz/corpus/"$1"/* "$corpus"/ &&
		build-fuzz/fuzz_"$1" -max_total_time="${FUZZ_SECONDS:-45}" \
			-rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 |
		tail -n 15
	local rc=${PIPESTATUS[0]}
	rm -rf "$corpus"
	return "$rc"
}

e2e() { # the dashboard against the real daemon (gcc build)
	AMTCERTD_BIN=$PWD/build-gcc/amtcertd E2E_EMBEDDED=1 node --test tests/e2e/
}

reliability() { # kill -9 under writers, the bad-input corpus, `amtcertd check`
	AMTCERTD_BIN=$PWD/build-gcc/amtcertd AMTCERTD_SRC=$PWD \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/reliability
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

step clang-format format_check
step "openapi lint" node tests/spec/lint.mjs openapi.yaml
step "build gcc" build build-gcc gcc -DCMAKE_BUILD_TYPE=Debug
step "tests gcc" run_ctest build-gcc
step "build clang asan+ubsan" build build-asan clang \
	-DCMAKE_BUILD_TYPE=Debug -DAMTCERTD_SANITIZE=ON
step "tests clang asan+ubsan" run_ctest build-asan
step "browser tests (chromium)" e2e
step "reliability suite (gcc)" reliability
step "build fuzzers" build build-fuzz clang -DCMAKE_BUILD_TYPE=Debug \
	-DAMTCERTD_FUZZ=ON
# four targets at 45 s: the three at 60 s took as long
for f in intake chain der p12; do
	step "fuzz $f (${FUZZ_SECONDS:-45} s)" fuzz "$f"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
