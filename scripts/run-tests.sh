#!/usr/bin/env bash
# Runs the given test tiers with tap (after type-checking the tests) and ends
# with one plain line "N passed, N failed" that any CI can read.
set -uo pipefail
cd "$(dirname "$0")/.."
tiers=("$@")
((${#tiers[@]})) || tiers=(test/unit test/bpf test/integration)

# Only *.test.ts files are tests; helpers and fixtures beside them are not.
mapfile -t files < <(find "${tiers[@]}" -name '*.test.ts' | sort)
((${#files[@]})) || { echo "no test files under ${tiers[*]}"; echo "0 passed, 1 failed"; exit 1; }

npx --no-install tsc -p tsconfig.test.json || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
npx --no-install tap "${files[@]}" 2>&1 | tee "$log" | grep -v -E '^npm warn' >&2
rc=${PIPESTATUS[0]}
# tap's closing summary of assertions: "# { total: N, pass: P, fail: F, ... }"
summary=$(grep -E '^# \{ total: ' "$log" | tail -1)
pass=$(grep -oE 'pass: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || true)
fail=$(grep -oE 'fail: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || true)
if [[ $rc -ne 0 && ${fail:-0} -eq 0 ]]; then fail=1; fi
echo "${pass:-0} passed, ${fail:-0} failed"
exit $rc
