# shellcheck shell=bash
# Shared helpers for wharf's end-to-end cases against a real dockerd.
#
# A case file sources this, calls `e2e_begin NAME`, creates docker objects through
# `dk_run` / `dk_create` / `dk_net_create` (so the exit trap removes them even when the
# case fails), asserts with `check*` helpers and ends with `e2e_end`.
#
# Environment:
#   WHARF_BIN    wharf binary (default: target/release/wharf in the repository)
#   DOCKER       docker client (default: /usr/bin/docker, Debian's, same version as dockerd)
#   E2E_LOG_DIR  where daemon logs go (default: a fresh directory under /tmp)
#   E2E_SUITE    set by run.sh: dockerd is then started and stopped by run.sh, not by the case

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$E2E_LIB_DIR/../.." && pwd)
DOCKER=${DOCKER:-/usr/bin/docker}
WHARF_BIN=${WHARF_BIN:-$REPO_ROOT/target/release/wharf}
case $WHARF_BIN in /*) ;; *) WHARF_BIN=$REPO_ROOT/$WHARF_BIN ;; esac
WHARF_SOCK=/run/docker/plugins/wharf.sock
IMAGE=wharf-test/busybox
E2E_LOG_DIR=${E2E_LOG_DIR:-$(mktemp -d /tmp/wharf-e2e-logs.XXXXXX)}
mkdir -p "$E2E_LOG_DIR"

E2E_CASE=${E2E_CASE:-adhoc}
# Results and created objects go to files, not variables: helpers often run inside $(...)
# or under `check`, whose subshells cannot change the case's variables.
E2E_WORK=$(mktemp -d /tmp/wharf-e2e-case.XXXXXX)
touch "$E2E_WORK/results" "$E2E_WORK/containers" "$E2E_WORK/networks"
WHARF_PID=""
WHARF_STATE=""
WHARF_LOG=""
DOCKERD_STARTED_HERE=0

log() { printf '    %s\n' "$*"; }
pass() { echo PASS >>"$E2E_WORK/results"; printf 'PASS %s: %s\n' "$E2E_CASE" "$*"; }
fail() { echo FAIL >>"$E2E_WORK/results"; printf 'FAIL %s: %s\n' "$E2E_CASE" "$*"; }
count() { grep -c "^$1\$" "$E2E_WORK/results"; }
# track_container NAME / track_network NAME: remove it in the exit trap.
track_container() { echo "$1" >>"$E2E_WORK/containers"; }
track_network() { echo "$1" >>"$E2E_WORK/networks"; }
skip() { printf 'SKIP %s: %s\n' "$E2E_CASE" "$*"; }
info() { printf 'INFO %s: %s\n' "$E2E_CASE" "$*"; }
# Indent captured output under a FAIL line, at most 20 lines.
show() { printf '%s\n' "$*" | head -n 20 | sed 's/^/      | /'; }

# check DESC CMD...: CMD must succeed.
check() {
  local desc=$1 out rc
  shift
  out=$("$@" 2>&1) && rc=0 || rc=$?
  if ((rc == 0)); then pass "$desc"; return 0; fi
  fail "$desc (command failed, rc=$rc: $*)"
  show "$out"
  return 1
}

# check_fails DESC REGEX CMD...: CMD must fail and its output match REGEX (grep -Ei).
check_fails() {
  local desc=$1 re=$2 out rc
  shift 2
  out=$("$@" 2>&1) && rc=0 || rc=$?
  if ((rc == 0)); then
    fail "$desc (expected failure, but it succeeded: $*)"
    show "$out"
    return 1
  fi
  if ! grep -Eiq -- "$re" <<<"$out"; then
    fail "$desc (failed as expected but the message does not match /$re/)"
    show "$out"
    return 1
  fi
  pass "$desc (message: $(tr '\n' ' ' <<<"$out" | cut -c1-200))"
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
  if [[ "$2" == "$3" ]]; then pass "$1"; return 0; fi
  fail "$1 (expected '$2', got '$3')"
  return 1
}

# check_match DESC REGEX TEXT: TEXT must match REGEX (grep -Eq, multi-line).
check_match() {
  if grep -Eq -- "$2" <<<"$3"; then pass "$1"; return 0; fi
  fail "$1 (no match for /$2/ in:)"
  show "$3"
  return 1
}

# check_no_match DESC REGEX TEXT
check_no_match() {
  if ! grep -Eq -- "$2" <<<"$3"; then pass "$1"; return 0; fi
  fail "$1 (unexpected match for /$2/ in:)"
  show "$(grep -E -- "$2" <<<"$3")"
  return 1
}

# retry SECONDS CMD...: run CMD until it succeeds or SECONDS pass (checked twice a second).
retry() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# check_ping DESC CONTAINER ADDR: CONTAINER pings ADDR (IPv4 or IPv6), retried for 10 s
# because a fresh interface may still be coming up (IPv6 DAD).
check_ping() {
  local desc=$1 c=$2 addr=$3 ping=ping out
  [[ $addr == *:* ]] && ping=ping6
  if retry 10 "$DOCKER" exec "$c" "$ping" -c 1 -W 1 "$addr"; then
    pass "$desc ($c -> $addr)"
    return 0
  fi
  out=$("$DOCKER" exec "$c" "$ping" -c 1 -W 1 "$addr" 2>&1)
  fail "$desc ($c cannot reach $addr)"
  show "$out"
  show "routes in $c: $("$DOCKER" exec "$c" ip route 2>&1; "$DOCKER" exec "$c" ip -6 route 2>&1)"
  return 1
}

# ---------------------------------------------------------------- docker objects

# dk_run NAME ARGS...: docker run -d --name NAME ARGS..., remembered for cleanup.
dk_run() {
  local name=$1
  shift
  track_container "$name"
  "$DOCKER" run -d --name "$name" "$@" >/dev/null
}

# dk_create NAME ARGS...: docker create --name NAME ARGS..., remembered for cleanup.
dk_create() {
  local name=$1
  shift
  track_container "$name"
  "$DOCKER" create --name "$name" "$@" >/dev/null
}

# dk_net_create NAME ARGS...: docker network create ARGS... NAME, remembered for cleanup.
dk_net_create() {
  local name=$1
  shift
  track_network "$name"
  "$DOCKER" network create "$@" "$name" >/dev/null
}

# container_ip CONTAINER NETWORK [6]
container_ip() {
  local field=IPAddress
  [[ ${3:-} == 6 ]] && field=GlobalIPv6Address
  "$DOCKER" inspect -f "{{with index .NetworkSettings.Networks \"$2\"}}{{.$field}}{{end}}" "$1" 2>/dev/null
}

# container_gateway CONTAINER NETWORK [6]: the gateway Docker gave CONTAINER on NETWORK
# (IPAM.Config of a network only shows a gateway the user set with --gateway).
container_gateway() {
  local field=Gateway
  [[ ${3:-} == 6 ]] && field=IPv6Gateway
  "$DOCKER" inspect -f "{{with index .NetworkSettings.Networks \"$2\"}}{{.$field}}{{end}}" "$1" 2>/dev/null
}

# gateway_of CONTAINER NETWORK [6]: Docker's record, else the container's default route.
gateway_of() {
  local gw
  gw=$(container_gateway "$@")
  if [[ -z $gw ]]; then
    gw=$("$DOCKER" exec "$1" ip -"${3:-4}" route 2>/dev/null | awk '$1 == "default" && $2 == "via" {print $3; exit}')
  fi
  echo "$gw"
}

network_id() { "$DOCKER" network inspect -f '{{.Id}}' "$1" 2>/dev/null; }

# ---------------------------------------------------------------- dockerd

dockerd_running() { "$DOCKER" info >/dev/null 2>&1; }

# dockerd_start: start dockerd (no systemd) unless one answers; remember if we started it.
dockerd_start() {
  if dockerd_running; then return 0; fi
  local log=$E2E_LOG_DIR/dockerd.log
  echo "    starting dockerd (log: $log)"
  # setsid: dockerd must not die with the case's process group.
  setsid dockerd >>"$log" 2>&1 </dev/null &
  echo $! >"$E2E_LOG_DIR/dockerd.pid"
  DOCKERD_STARTED_HERE=1
  if ! retry 60 "$DOCKER" info; then
    echo "dockerd did not come up in 60 s; log tail:" >&2
    tail -n 30 "$log" >&2
    return 1
  fi
}

# dockerd_pid: the pid of the running dockerd, if any.
dockerd_pid() {
  if [[ -s /var/run/docker.pid ]]; then cat /var/run/docker.pid; else pgrep -x dockerd | head -n 1; fi
}

# dockerd_stop: stop dockerd gracefully and wait until it is gone.
dockerd_stop() {
  local pid
  pid=$(dockerd_pid)
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "dockerd $pid still alive after 60 s" >&2; return 1; }
    sleep 0.5
  done
}

# dockerd_restart: stop the running dockerd and start it again with the same arguments.
dockerd_restart() {
  local pid args=()
  pid=$(dockerd_pid)
  if [[ -n $pid && -r /proc/$pid/cmdline ]]; then
    mapfile -d '' -t args <"/proc/$pid/cmdline"
    args=("${args[@]:1}")
  fi
  dockerd_stop || return 1
  local log=$E2E_LOG_DIR/dockerd.log
  echo "    restarting dockerd ${args[*]} (log: $log)"
  setsid dockerd "${args[@]}" >>"$log" 2>&1 </dev/null &
  echo $! >"$E2E_LOG_DIR/dockerd.pid"
  retry 60 "$DOCKER" info
}

# image_build: build the busybox test image once.
image_build() {
  "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  local dir
  dir=$(mktemp -d /tmp/wharf-e2e-image.XXXXXX)
  cp /bin/busybox "$dir/busybox"
  printf '%s\n' 'FROM scratch' 'COPY busybox /bin/busybox' 'RUN ["/bin/busybox","--install","-s","/bin"]' >"$dir/Dockerfile"
  "$DOCKER" build -q -t "$IMAGE" "$dir" >/dev/null
  local rc=$?
  rm -rf "$dir"
  return $rc
}

# ---------------------------------------------------------------- wharf

# plugin_call METHOD [BODY]: POST /METHOD on wharf's socket the way dockerd does (no
# Content-Type). Prints "HTTP_CODE BODY" on one line.
plugin_call() {
  local method=$1 body=${2:-} out
  out=$(curl -s -m 10 --unix-socket "${PLUGIN_SOCK:-$WHARF_SOCK}" -X POST \
    -H 'Content-Type:' -H 'Accept: application/vnd.docker.plugins.v1.2+json' \
    --data-binary "$body" -w '\n%{http_code}' "http://wharf/$method" 2>&1) || true
  printf '%s %s\n' "$(tail -n 1 <<<"$out")" "$(sed '$d' <<<"$out" | tr -d '\n')"
}

plugin_activated() {
  [[ $(plugin_call Plugin.Activate) == 200*NetworkDriver* ]]
}

# wharf_start [EXTRA ARGS...]: start wharf serve on the default socket with the case's
# state dir (created on first use, kept across restarts within the case).
wharf_start() {
  if [[ ! -x $WHARF_BIN ]]; then
    fail "wharf binary not found at $WHARF_BIN (build it first)"
    return 1
  fi
  if [[ -z $WHARF_PID ]] && plugin_activated; then
    fail "another wharf already answers on $WHARF_SOCK; stop it first"
    return 1
  fi
  [[ -n $WHARF_STATE ]] || WHARF_STATE=$(mktemp -d /tmp/wharf-e2e-state.XXXXXX)
  WHARF_LOG=$E2E_LOG_DIR/wharf-$E2E_CASE.log
  echo "--- wharf serve --state-dir $WHARF_STATE --debug $* ($(date +%T))" >>"$WHARF_LOG"
  "$WHARF_BIN" serve --state-dir "$WHARF_STATE" --debug "$@" >>"$WHARF_LOG" 2>&1 </dev/null &
  WHARF_PID=$!
  local deadline=$((SECONDS + 20))
  until plugin_activated; do
    if ! kill -0 "$WHARF_PID" 2>/dev/null; then
      local rc=0
      wait "$WHARF_PID" || rc=$?
      fail "wharf serve exited (status $rc) before answering /Plugin.Activate"
      show "$(tail -n 20 "$WHARF_LOG")"
      WHARF_PID=""
      return 1
    fi
    if ((SECONDS >= deadline)); then
      fail "wharf serve did not answer /Plugin.Activate within 20 s"
      show "$(tail -n 20 "$WHARF_LOG")"
      return 1
    fi
    sleep 0.2
  done
}

# wharf_kill [SIGNAL]: stop our wharf (default TERM, then KILL after 10 s).
wharf_kill() {
  local sig=${1:-TERM}
  [[ -n $WHARF_PID ]] || return 0
  # stderr off: bash reports a killed background job ("Killed ...") when it reaps it.
  {
    kill -"$sig" "$WHARF_PID"
    local deadline=$((SECONDS + 10))
    while kill -0 "$WHARF_PID"; do
      if ((SECONDS >= deadline)); then kill -KILL "$WHARF_PID"; fi
      sleep 0.1
    done
    wait "$WHARF_PID"
  } 2>/dev/null
  WHARF_PID=""
}

wharf_status() { "$WHARF_BIN" status --state-dir "$WHARF_STATE" "$@"; }

wharf_log_tail() { [[ -n $WHARF_LOG && -f $WHARF_LOG ]] && tail -n "${1:-30}" "$WHARF_LOG"; }

# ---------------------------------------------------------------- kernel objects

# wharf_links: host links named wh* or carrying a wharf:* alias.
wharf_links() {
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^wh' || true
  ip -o link show | grep -E 'alias wharf:' | awk -F': ' '{print $2}' | sed 's/@.*//' || true
}

wharf_routes() { ip route show proto 87 2>/dev/null; ip -6 route show proto 87 2>/dev/null; }

# scrub_kernel WHY: remove wharf's kernel leftovers so that one case's leak does not
# fail the next one; says what it removed.
scrub_kernel() {
  local links routes
  links=$(wharf_links | sort -u)
  routes=$(wharf_routes)
  [[ -z $links && -z $routes ]] && return 0
  info "$1: removing leftover wharf kernel objects: links [$(tr '\n' ' ' <<<"$links")] routes [$(tr '\n' ';' <<<"$routes")]"
  local l
  for l in $links; do ip link del "$l" 2>/dev/null || true; done
  ip route flush proto 87 2>/dev/null || true
  ip -6 route flush proto 87 2>/dev/null || true
}

# ---------------------------------------------------------------- case life cycle

e2e_cleanup() {
  local rc=$? c n fails
  trap - EXIT INT TERM
  while read -r c; do "$DOCKER" rm -f "$c" >/dev/null 2>&1 || true; done <"$E2E_WORK/containers"
  while read -r n; do
    "$DOCKER" network inspect "$n" >/dev/null 2>&1 || continue
    "$DOCKER" network rm "$n" >/dev/null 2>&1 ||
      info "cleanup: docker network rm $n failed; it may linger"
  done <"$E2E_WORK/networks"
  wharf_kill TERM
  scrub_kernel "cleanup"
  [[ -n $WHARF_STATE ]] && rm -rf "$WHARF_STATE"
  if ((DOCKERD_STARTED_HERE)) && [[ -z ${E2E_SUITE:-} ]]; then dockerd_stop; fi
  fails=$(count FAIL)
  if ((fails > 0)) && [[ -n $WHARF_LOG && -f $WHARF_LOG ]]; then
    echo "    wharf log tail ($WHARF_LOG):"
    tail -n 25 "$WHARF_LOG" | sed 's/^/      | /'
  fi
  echo "CASE $E2E_CASE: $(count PASS) checks passed, $fails failed"
  rm -rf "$E2E_WORK"
  if ((fails > 0 || rc != 0)); then exit 1; fi
  exit 0
}

# e2e_begin NAME: dockerd up, image built, fresh wharf on the default socket, traps set.
e2e_begin() {
  E2E_CASE=$1
  echo "=== $E2E_CASE"
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  [[ $(id -u) -eq 0 ]] || { fail "must run as root"; exit 1; }
  dockerd_start || { fail "cannot start dockerd"; exit 1; }
  image_build || { fail "cannot build $IMAGE"; exit 1; }
  if plugin_activated; then fail "another wharf already answers on $WHARF_SOCK; stop it first"; exit 1; fi
  scrub_kernel "setup"
  wharf_start || exit 1
}

# e2e_end: explicit end of a case (the EXIT trap reports and cleans up).
e2e_end() { exit 0; }
