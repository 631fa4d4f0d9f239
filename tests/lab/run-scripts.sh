#!/usr/bin/env bash
# Runs the lab's shell tests inside the lab, one after the other, in one boot:
#   lab/run -- tests/lab/run-scripts.sh [SCRIPT...]      (default: every tests/lab/t_*.sh)
# Each script prints PASS/FAIL lines and its own closing "N passed, N failed" line, which is
# what scripts/test counts. A script that ends without that line (crashed, killed after
# LAB_SCRIPT_TIMEOUT seconds, default 600) gets "lab: SCRIPT crashed (exit N)", which
# scripts/test counts as one failure. Exits non-zero when any script failed.
set -uo pipefail

if [[ -z ${WHARF_LAB:-} ]]; then
  echo "run-scripts: run me in the lab: lab/run -- $0 [SCRIPT...]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
(($#)) || set -- "$here"/t_*.sh
failed=0
out=$(mktemp)
for script in "$@"; do
  echo "##### $(basename "$script") ($(uname -r))"
  start=$SECONDS
  timeout -k 10 "${LAB_SCRIPT_TIMEOUT:-600}" "$script" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  echo "##### $(basename "$script"): exit $rc after $((SECONDS - start)) s"
  if ((rc != 0)); then
    failed=1
    # scripts/test counts this line as one failure.
    grep -Eq '^[0-9]+ passed, [0-9]+ failed$' "$out" || echo "lab: $script crashed (exit $rc)"
  fi
done
rm -f "$out"
exit "$failed"
