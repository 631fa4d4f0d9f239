# shellcheck shell=bash
# PASS/FAIL checks for the lab's shell tests (tests/lab/t_*.sh), sourced by them (and by
# dockersim.sh). Each check prints one "PASS NAME" or "FAIL NAME ..." line; a test ends with
# `lab_summary`, which prints the closing "N passed, N failed" line scripts/test counts.
#
#   source "$(dirname "$0")/lib/check.sh"
#   lab_require t_mine          # outside the lab: say how to run it, count one failure
#   check "veth created" ip link add a type veth peer name b
#   lab_summary                 # "N passed, N failed"; returns non-zero on a failure
#
# An EXIT trap runs the hooks registered with `lab_at_exit` (last first, also when the
# test stops midway) and, when the test ended before `lab_summary`, counts that as a
# failure and prints the summary anyway, so the run's counts stay honest.

LAB_PASSED=0
LAB_FAILED=0
LAB_SUMMARY_DONE=0
LAB_TEST=$(basename "$0" .sh)
LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/wharf-labtest.XXXXXX")
LAB_EXIT_HOOKS=()

# lab_require [NAME]: exit with "0 passed, 1 failed" unless running inside lab/run.
lab_require() {
  if [[ -z ${WHARF_LAB:-} ]]; then
    echo "${1:-$LAB_TEST}: run me in the lab: lab/run -- $0" >&2
    LAB_FAILED=1
    lab_summary
    exit 1
  fi
}

# lab_at_exit FUNCTION: call FUNCTION EXIT_STATUS when the test exits, however it exits.
lab_at_exit() { LAB_EXIT_HOOKS+=("$1"); }

_lab_exit() {
  local rc=$? i
  trap - EXIT
  for ((i = ${#LAB_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
    "${LAB_EXIT_HOOKS[i]}" "$rc"
  done
  rm -rf "$LAB_TMP"
  if ((!LAB_SUMMARY_DONE)); then
    echo "FAIL $LAB_TEST: stopped before its end (exit $rc)"
    LAB_FAILED=$((LAB_FAILED + 1))
    lab_summary
    ((rc != 0)) || rc=1
  fi
  exit "$rc"
}
trap _lab_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

lab_pass() {
  echo "PASS $*"
  LAB_PASSED=$((LAB_PASSED + 1))
}

# lab_fail DESCRIPTION [OUTPUT_FILE]: a FAIL line, then the file's lines indented.
lab_fail() {
  echo "FAIL $1"
  [[ -n ${2:-} && -s ${2:-} ]] && sed 's/^/    /' "$2"
  LAB_FAILED=$((LAB_FAILED + 1))
  return 1
}

# check NAME CMD...: PASS when CMD exits 0; on failure its output (stdout and stderr) is
# shown. CMD runs in the test's own shell (not a subshell): functions may set variables.
check() {
  local name=$1 rc
  shift
  if "$@" >"$LAB_TMP/check.out" 2>&1; then
    lab_pass "$name"
  else
    rc=$?
    lab_fail "$name (exit $rc): $*" "$LAB_TMP/check.out"
  fi
}

# check_fails NAME REGEX CMD...: PASS when CMD fails and its output matches the extended
# regex REGEX (case-insensitive); the PASS line quotes the start of the message.
check_fails() {
  local name=$1 re=$2 rc=0
  shift 2
  "$@" >"$LAB_TMP/check.out" 2>&1 || rc=$?
  if ((rc == 0)); then
    lab_fail "$name (expected a failure, it succeeded): $*" "$LAB_TMP/check.out"
  elif ! grep -Eiq -- "$re" "$LAB_TMP/check.out"; then
    lab_fail "$name (failed as expected, but no /$re/ in its output): $*" "$LAB_TMP/check.out"
  else
    lab_pass "$name (message: $(grep -Ei -m1 -- "$re" "$LAB_TMP/check.out" | cut -c1-200))"
  fi
}

# lab_summary: the closing "N passed, N failed" line; returns non-zero if a check failed.
lab_summary() {
  LAB_SUMMARY_DONE=1
  echo "$LAB_PASSED passed, $LAB_FAILED failed"
  ((LAB_FAILED == 0))
}
