#!/usr/bin/env bash
# Runs cargo test binaries inside the lab, root kernel tests included, one test at a time
# (threads only slow each other down under TCG):
#   lab/run -- tests/lab/run-test-binaries.sh BINARY...
# Each binary's "test result:" line is what scripts/test counts. Exits non-zero when any
# binary failed or crashed; a binary that crashed before its result line gets a line
# "lab: BINARY crashed (exit N)" and counts as one failure.
set -uo pipefail

if [[ -z ${WHARF_LAB:-} ]]; then
  echo "run-test-binaries: run me in the lab: lab/run -- $0 BINARY..." >&2
  exit 2
fi
failed=0
# The lab is for what this machine's kernel lacks; property tests' thousands of cases add
# nothing there but emulated time (the unit stage runs them in full).
export PROPTEST_CASES=${PROPTEST_CASES:-16}
for bin in "$@"; do
  echo "##### $(basename "$bin") ($(uname -r))"
  out=$(mktemp)
  "$bin" --include-ignored --test-threads 1 --color never 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  if ((rc != 0)); then
    failed=1
    grep -q '^test result:' "$out" || echo "lab: $bin crashed (exit $rc)"
  fi
  rm -f "$out"
done
exit "$failed"
