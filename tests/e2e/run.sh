#!/usr/bin/env bash
# Run wharf's end-to-end cases against a real dockerd, each in its own process so that
# no case depends on another's leftovers or order. Usage: tests/e2e/run.sh [t_name ...]
# Prints "N passed, N failed" (cases) last; exits non-zero when a case failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
export E2E_SUITE=1 E2E_LOG_DIR WHARF_BIN DOCKER
CASE_TIMEOUT=${E2E_CASE_TIMEOUT:-600}

cases=()
if (($#)); then
  for c in "$@"; do cases+=("$here/${c%.sh}.sh"); done
else
  cases=("$here"/t_*.sh)
fi

E2E_CASE=suite
# Test traffic stays on this machine for the whole suite (tests/lib/guard.sh); the cases
# check that it is in place.
suite_dockerd=0
suite_end() {
  if ((suite_dockerd)); then dockerd_stop; fi
  guard_remove
}
trap suite_end EXIT
if ! guard_install; then
  echo "cannot keep test traffic on this machine: the guard's policy rules did not hold"
  echo "0 passed, ${#cases[@]} failed"
  exit 1
fi
dockerd_start || { echo "cannot start dockerd"; echo "0 passed, ${#cases[@]} failed"; exit 1; }
suite_dockerd=$DOCKERD_STARTED_HERE
# E2E_DOCKERD_VERSION=26.: the suite is meant for that dockerd; any other answering is a failure,
# not a quiet run against the wrong version.
server=$("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null)
echo "e2e: dockerd $server, client $("$DOCKER" version -f '{{.Client.Version}}' 2>/dev/null)"
if [[ -n ${E2E_DOCKERD_VERSION:-} && $server != "$E2E_DOCKERD_VERSION"* ]]; then
  echo "e2e: dockerd $server answers, but this run is for dockerd $E2E_DOCKERD_VERSION (stop the other one first)"
  echo "0 passed, ${#cases[@]} failed"
  exit 1
fi
image_build || { echo "cannot build $IMAGE"; echo "0 passed, ${#cases[@]} failed"; exit 1; }

passed=0 failed=0 failed_names=()
for c in "${cases[@]}"; do
  name=$(basename "$c" .sh)
  start=$SECONDS
  # A case that hangs gets TERM (its trap still cleans up), then KILL 30 s later.
  if timeout -k 30 "$CASE_TIMEOUT" bash "$c"; then
    passed=$((passed + 1))
  else
    rc=$?
    ((rc == 124)) && echo "FAIL $name: timed out after ${CASE_TIMEOUT}s"
    failed=$((failed + 1))
    failed_names+=("$name")
  fi
  echo "    ($name took $((SECONDS - start)) s)"
done

rm -rf "$E2E_WORK"
echo "e2e logs: $E2E_LOG_DIR"
((failed)) && echo "e2e failed cases: ${failed_names[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
