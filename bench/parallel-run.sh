#!/usr/bin/env bash
# C containers started at the same moment (`docker run -d`, one process each, released together)
# on a wharf routed network, against the same C on Docker's built-in bridge, in the same run:
# wall time from the release to the last container running; then `docker rm -f` of all C at
# once, timed the same way. Several rounds, alternating which kind goes first; medians and the
# ratios wharf/bridge. Failed starts are counted and shown, never hidden. Also checks (does not
# time) that the wharf containers got C distinct addresses.
#
# Usage: sudo bench/parallel-run.sh [C [ROUNDS]]     (default 50 containers, 3 rounds)
# Uses WHARF_BIN (default target/release/wharf; build it first) and starts dockerd if none runs;
# refuses to run when another wharf answers on the plugin socket. Removes everything it made,
# also on failure or Ctrl-C. Networks: wharf 10.42.0.0/16, bridge 10.43.0.0/24.
set -uo pipefail
C=${1:-50}
ROUNDS=${2:-3}
if ! [[ $C =~ ^[0-9]+$ && $ROUNDS =~ ^[0-9]+$ ]] || ((C < 1 || C > 250 || ROUNDS < 1)); then
  echo "usage: bench/parallel-run.sh [CONTAINERS (1-250) [ROUNDS]]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
own_log_dir=0
[[ -z ${E2E_LOG_DIR:-} ]] && own_log_dir=1
# shellcheck source=tests/e2e/lib.sh
. "$here/../tests/e2e/lib.sh"
E2E_CASE=parallel-run
LABEL=wharf-bench-parallel=$$
declare -A net=([wharf]=bench-par-wharf [bridge]=bench-par-bridge)

# remove_network NAME: docker network rm NAME, saying why when it fails. dockerd 20.10 can
# miscount a network's endpoints after many parallel `docker rm -f` (seen here: "has active
# endpoints" with none left; on restart it logs "Fixing inconsistent endpoint_cnt ...
# Expected=0, Actual=4"): a dockerd this script started is then restarted, which recounts.
remove_network() {
  local out
  "$DOCKER" network inspect "$1" >/dev/null 2>&1 || return 0
  out=$("$DOCKER" network rm "$1" 2>&1) && return 0
  echo "docker network rm $1 failed: $out"
  if ((DOCKERD_STARTED_HERE)) && dockerd_restart >/dev/null; then
    out=$("$DOCKER" network rm "$1" 2>&1) && { echo "  removed after restarting dockerd"; return 0; }
    echo "  and again after restarting dockerd: $out"
  fi
  return 1
}

cleanup() {
  local rc=$? ids
  trap - EXIT INT TERM
  if ((rc != 0)) && [[ -n $WHARF_LOG && -f $WHARF_LOG ]]; then
    echo "wharf log tail ($WHARF_LOG):"
    tail -n 20 "$WHARF_LOG"
  fi
  ids=$("$DOCKER" ps -aq --filter "label=$LABEL" 2>/dev/null)
  # shellcheck disable=SC2086 # one ID a word
  [[ -n $ids ]] && "$DOCKER" rm -f $ids >/dev/null 2>&1
  remove_network "${net[wharf]}"
  remove_network "${net[bridge]}"
  wharf_kill TERM
  [[ -n $WHARF_STATE ]] && rm -rf "$WHARF_STATE"
  ((DOCKERD_STARTED_HERE)) && dockerd_stop
  rm -rf "$E2E_WORK"
  ((own_log_dir)) && rm -rf "$E2E_LOG_DIR"
  guard_remove
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) -eq 0 ]] || { echo "bench/parallel-run.sh needs root" >&2; exit 1; }
command -v flock >/dev/null || { echo "needs flock (util-linux)" >&2; exit 1; }
guard_install || { echo "cannot keep test traffic on this machine (tests/lib/guard.sh)"; exit 1; }
dockerd_start || exit 1
image_build || { echo "cannot build $IMAGE"; exit 1; }
if plugin_activated; then
  echo "another wharf already answers on $WHARF_SOCK: stop it first (this measures $WHARF_BIN)" >&2
  exit 1
fi
wharf_start >/dev/null || { echo "cannot start wharf from $WHARF_BIN"; exit 1; }
"$DOCKER" network create -d wharf --ipam-driver wharf --subnet 10.42.0.0/16 "${net[wharf]}" >/dev/null || exit 1
"$DOCKER" network create -d bridge --subnet 10.43.0.0/24 "${net[bridge]}" >/dev/null || exit 1

now_ns() { date +%s%N; }

# all_at_once DIR CMD...: runs CMD C times in parallel, CMD's arguments with {} replaced by
# the index 0..C-1; the C processes wait on a lock and are released together. Prints the wall
# time in ms from the release to the last one done; DIR/rc.I and DIR/err.I keep each exit
# status and stderr.
all_at_once() {
  local dir=$1 i t0 t_end pids=()
  shift
  mkdir -p "$dir"
  exec {lock}>"$dir/lock"
  flock -x "$lock"
  for ((i = 0; i < C; i++)); do
    (
      exec {lock}>&-
      args=("${@//\{\}/$i}")
      flock -s "$dir/lock" true
      "${args[@]}" >/dev/null 2>"$dir/err.$i"
      echo $? >"$dir/rc.$i"
      now_ns >"$dir/end.$i"
    ) &
    pids+=($!)
  done
  sleep 1 # every process is waiting on the lock
  t0=$(now_ns)
  flock -u "$lock"
  exec {lock}>&-
  wait "${pids[@]}"
  t_end=$(cat "$dir"/end.* | sort -n | tail -n 1)
  echo $(((t_end - t0) / 1000000))
}

# failures DIR: how many processes failed, and their distinct messages (at most 5).
failures() {
  local dir=$1 failed
  failed=$(grep -lvx 0 "$dir"/rc.* 2>/dev/null | wc -l)
  echo "$failed"
  if ((failed > 0)); then
    grep -lvx 0 "$dir"/rc.* | sed 's/rc\./err./' | xargs cat | sort | uniq -c | sort -rn | head -n 5 >&2
  fi
}

# distinct_addresses KIND ROUND: how many distinct addresses the round's containers have on
# the kind's network.
distinct_addresses() {
  local i
  for ((i = 0; i < C; i++)); do
    container_ip "par-$1-$2-$i" "${net[$1]}"
    echo
  done | grep . | sort -u | wc -l
}

# Warm-up, not counted: the first container on each network after dockerd starts is slower.
for k in wharf bridge; do
  "$DOCKER" run --rm --label "$LABEL" --net "${net[$k]}" "$IMAGE" true || { echo "docker run on $k failed"; exit 1; }
done

declare -A run_ms rm_ms
run_failed=0
rm_failed=0
address_problems=0
echo "bench/parallel-run.sh: $C containers at once, $ROUNDS rounds ($("$DOCKER" version -f '{{.Server.Version}}') dockerd, $(nproc) cores, wharf with --debug)"
for ((r = 0; r < ROUNDS; r++)); do
  kinds=(wharf bridge)
  ((r % 2)) && kinds=(bridge wharf)
  for k in "${kinds[@]}"; do
    dir=$E2E_WORK/$k.$r
    ms=$(all_at_once "$dir/run" "$DOCKER" run -d --label "$LABEL" --name "par-$k-$r-{}" --net "${net[$k]}" "$IMAGE" sleep 3600)
    failed=$(failures "$dir/run")
    running=$("$DOCKER" ps -q --filter "label=$LABEL" --filter "name=^par-$k-$r-" --filter status=running | wc -l)
    run_ms[$k]+="$ms "
    ((run_failed += failed))
    note=""
    if [[ $k == wharf ]]; then
      distinct=$(distinct_addresses "$k" "$r")
      note=", $distinct distinct addresses"
      ((distinct == C - failed)) || ((address_problems += 1))
    fi
    printf '  round %d %-6s run: %6d ms, %d running, %d failed%s\n' "$r" "$k" "$ms" "$running" "$failed" "$note"
    ms=$(all_at_once "$dir/rm" "$DOCKER" rm -f "par-$k-$r-{}")
    failed=$(failures "$dir/rm")
    rm_ms[$k]+="$ms "
    ((rm_failed += failed))
    left=$("$DOCKER" ps -aq --filter "label=$LABEL" | wc -l)
    printf '  round %d %-6s rm:  %6d ms, %d left, %d failed\n' "$r" "$k" "$ms" "$left" "$failed"
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.0f", m }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
declare -A med_run med_rm
for k in wharf bridge; do
  med_run[$k]=$(median <<<"${run_ms[$k]}")
  med_rm[$k]=$(median <<<"${rm_ms[$k]}")
done
echo
echo "=== $C containers at once, median of $ROUNDS rounds (ms, release to the last one done)"
printf '                        %8s %8s %12s\n' wharf bridge wharf/bridge
printf '  docker run -d         %8s %8s %12s   (rounds: wharf %s/ bridge %s)\n' "${med_run[wharf]}" "${med_run[bridge]}" \
  "$(ratio "${med_run[wharf]}" "${med_run[bridge]}")" "${run_ms[wharf]}" "${run_ms[bridge]}"
printf '  docker rm -f          %8s %8s %12s   (rounds: wharf %s/ bridge %s)\n' "${med_rm[wharf]}" "${med_rm[bridge]}" \
  "$(ratio "${med_rm[wharf]}" "${med_rm[bridge]}")" "${rm_ms[wharf]}" "${rm_ms[bridge]}"
echo "  failed: $run_failed docker run, $rm_failed docker rm; wharf rounds with duplicate or missing addresses: $address_problems"
((run_failed == 0 && rm_failed == 0 && address_problems == 0))
