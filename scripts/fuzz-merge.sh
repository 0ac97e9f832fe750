#!/usr/bin/env bash
# Grows the fuzz corpora kept in the repository: runs each libFuzzer target
# for SECONDS on a scratch copy of tests/fuzz/corpus/<target>, then merges
# what added coverage back into that directory (-merge=1 keeps only inputs
# that add features, so the corpus stays small; inputs over 64 KiB are
# not kept). Commit the new files afterwards. A crash stops the script
# with the reproducer's path.
#
# Usage: scripts/fuzz-merge.sh [SECONDS] [BUILD_DIR] [TARGET...]
#   SECONDS    per target (default 60)
#   BUILD_DIR  clang build with -DAMTCERTD_FUZZ=ON (default build-fuzz;
#              configured here when it does not exist)
#   TARGET     intake chain der p12 (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
build=${2:-build-fuzz}
shift $(($# > 2 ? 2 : $#))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(intake chain der p12)
max_len=65536

if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=clang cmake -S . -B "$build" -DAMTCERTD_WERROR=ON \
		-DCMAKE_BUILD_TYPE=Debug -DAMTCERTD_FUZZ=ON >/dev/null || exit 1
fi
cmake --build "$build" -j"$(nproc)" \
	--target "${targets[@]/#/fuzz_}" >/dev/null || exit 1

status=0
for t in "${targets[@]}"; do
	corpus=tests/fuzz/corpus/$t
	scratch=$(mktemp -d)
	art=$(mktemp -d)
	mkdir -p "$corpus"
	cp "$corpus"/* "$scratch"/ 2>/dev/null
	before=$(ls "$corpus" | wc -l)
	"$build/fuzz_$t" -max_total_time="$secs" -max_len="$max_len" \
		-rss_limit_mb=2048 -artifact_prefix="$art/" -print_final_stats=1 \
		"$scratch" >"$art/log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] || ls "$art" | grep -q -v '^log$'; then
		echo "fuzz_$t: FAILED (exit $rc); reproducer and log kept in $art:"
		ls -l "$art"
		tail -n 40 "$art/log"
		status=1
		rm -rf "$scratch"
		continue
	fi
	"$build/fuzz_$t" -merge=1 -max_len="$max_len" -rss_limit_mb=2048 \
		"$corpus" "$scratch" >"$art/merge.log" 2>&1 || {
		echo "fuzz_$t: merge failed"
		tail -n 20 "$art/merge.log"
		status=1
	}
	find "$corpus" -type f -size +64k -newer "$art/log" -delete
	chmod 644 "$corpus"/*
	after=$(ls "$corpus" | wc -l)
	echo "fuzz_$t: $secs s, $(grep -o 'number_of_executed_units: [0-9]*' \
		"$art/log" | cut -d' ' -f2) runs, corpus $before -> $after files" \
		"($(du -sh "$corpus" | cut -f1))"
	rm -rf "$scratch" "$art"
done
exit "$status"
