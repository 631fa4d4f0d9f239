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
# shellcheck source=tests/lib/guard.sh
. "$REPO_ROOT/tests/lib/guard.sh"
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

# check_has DESC WORD TEXT: TEXT contains WORD as a whole word (grep -wF: 10.46.1.7 is not
# found in 10.46.1.70). An empty WORD fails: it would be found in anything.
check_has() {
  if [[ -z $2 ]]; then
    fail "$1 (nothing to look for: the value is empty)"
    return 1
  fi
  if grep -qwF -- "$2" <<<"$3"; then pass "$1"; return 0; fi
  fail "$1 ('$2' not in:)"
  show "$3"
  return 1
}

# check_out_match DESC REGEX CMD... / check_out_no_match DESC REGEX CMD...: CMD must succeed
# (a listing that failed proves nothing) and its output match, or not match, REGEX.
check_out_match() { _check_out check_match "$@"; }
check_out_no_match() { _check_out check_no_match "$@"; }
_check_out() {
  local checker=$1 desc=$2 re=$3 out rc
  shift 3
  out=$("$@" 2>&1) && rc=0 || rc=$?
  if ((rc != 0)); then
    fail "$desc (could not look: $* failed with rc=$rc)"
    show "$out"
    return 1
  fi
  "$checker" "$desc" "$re" "$out"
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
check_ping() { check_ping_from "$1" "$2" "" "$3"; }

# check_ping_from DESC CONTAINER SOURCE ADDR: the same, the echo request sent from SOURCE
# (one of CONTAINER's addresses; empty: the kernel's choice), so the reply must come back to
# SOURCE. An empty ADDR fails.
check_ping_from() {
  local desc=$1 c=$2 src=$3 addr=$4 ping=(ping) out
  if [[ -z $addr ]]; then
    fail "$desc ($c: no address to ping)"
    return 1
  fi
  [[ $addr == *:* ]] && ping=(ping6)
  [[ -n $src ]] && ping+=(-I "$src")
  if retry 10 "$DOCKER" exec "$c" "${ping[@]}" -c 1 -W 1 "$addr"; then
    pass "$desc ($c${src:+ from $src} -> $addr)"
    return 0
  fi
  out=$("$DOCKER" exec "$c" "${ping[@]}" -c 1 -W 1 "$addr" 2>&1)
  fail "$desc ($c${src:+ from $src} cannot reach $addr)"
  show "$out"
  show "routes in $c: $("$DOCKER" exec "$c" ip route 2>&1; "$DOCKER" exec "$c" ip -6 route 2>&1)"
  return 1
}

# check_host_ping DESC ADDR: the host (this namespace) pings ADDR, retried for 10 s. Only
# addresses of containers the case made: the traffic guard keeps anything else home.
check_host_ping() {
  local desc=$1 addr=$2 out
  if [[ -z $addr ]]; then
    fail "$desc (no address to ping)"
    return 1
  fi
  if retry 10 ping -c 1 -W 1 "$addr"; then
    pass "$desc (host -> $addr)"
    return 0
  fi
  out=$(ping -c 1 -W 1 "$addr" 2>&1)
  fail "$desc (the host cannot reach $addr)"
  show "$out"
  show "$(ip route get "$addr" 2>&1)"
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
# The pid of a dockerd the suite started is kept in $E2E_LOG_DIR/dockerd.pid, so that its
# cases (other processes) know whether the running dockerd is theirs to restart.
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

# dockerd_ours: the running dockerd is the one this suite (or case) started.
dockerd_ours() {
  local pid
  pid=$(dockerd_pid)
  [[ -n $pid && -s $E2E_LOG_DIR/dockerd.pid && $(<"$E2E_LOG_DIR/dockerd.pid") == "$pid" ]]
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

# dockerd_restart: stop the dockerd this suite started and start it again with the same
# arguments. Returns 2, touching nothing, when the running dockerd is not the suite's own
# (someone else's daemon and containers are not the tests' to restart).
dockerd_restart() {
  local pid args=()
  dockerd_ours || return 2
  pid=$(dockerd_pid)
  if [[ -r /proc/$pid/cmdline ]]; then
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

# wharf_links: host links wharf makes (w[hcsd] + hex ID digits: veth ends, shims, dummies)
# or that carry a wharf:* alias (VLAN parents). Fails when the links cannot be listed.
wharf_links() {
  local links
  links=$(ip -o link show) || return 1
  awk -F': ' '{ name = $2; sub(/@.*/, "", name) }
    name ~ /^w[hcsd][0-9a-f]/ || / alias wharf:/ { print name }' <<<"$links" | sort -u
}

# wharf_routes: the host's proto 87 (wharf's) routes, IPv4 then IPv6, every table. Fails when
# they cannot be listed.
wharf_routes() { ip -4 route show table all proto 87 && ip -6 route show table all proto 87; }

# wharf_objects: every object in this namespace that is wharf's or that wharf makes, one per
# line as "KIND DETAILS", sorted: links (with their wharf alias), proto 87 routes, proxy
# neighbour entries, iptables and ip6tables rules marked wharf or matching wh+, nftables
# tables whose name starts with wharf (wharf, wharf_nat). Fails when any of them cannot be
# listed: an empty list must mean none.
wharf_objects() {
  local links r4 r6 n4 n6 ipt ip6t nft
  links=$(ip -o link show) && r4=$(ip -4 route show table all proto 87) &&
    r6=$(ip -6 route show table all proto 87) && n4=$(ip -4 neigh show proxy) &&
    n6=$(ip -6 neigh show proxy) && ipt=$(iptables-save) && ip6t=$(ip6tables-save) &&
    nft=$(nft list tables) || return 1
  {
    awk -F': ' '{ name = $2; sub(/@.*/, "", name); alias = "" }
      match($0, / alias [^ ]+/) { alias = substr($0, RSTART + 7, RLENGTH - 7) }
      name ~ /^w[hcsd][0-9a-f]/ || alias ~ /^wharf:/ { print "link " name (alias == "" ? "" : " alias " alias) }' <<<"$links"
    grep . <<<"$r4" | sed 's/^/route4 /'
    grep . <<<"$r6" | sed 's/^/route6 /'
    grep . <<<"$n4" | sed 's/^/neigh4 /'
    grep . <<<"$n6" | sed 's/^/neigh6 /'
    awk '/^\*/ { table = substr($0, 2) } /^-A / && /wharf|wh\+/ { print "iptables " table " " $0 }' <<<"$ipt"
    awk '/^\*/ { table = substr($0, 2) } /^-A / && /wharf|wh\+/ { print "ip6tables " table " " $0 }' <<<"$ip6t"
    grep -E '^table [a-z0-9]+ wharf' <<<"$nft" | sed 's/^/nft /'
  } | sort
}

# wharf_objects_remove FILE: deletes each object FILE lists (wharf_objects' format), ignoring
# those already gone. Only for objects a case made itself.
wharf_objects_remove() {
  local kind rest table rule
  local -a words
  while read -r kind rest; do
    read -ra words <<<"$rest"
    case $kind in
      link) ip link del "${words[0]}" ;;
      route4) ip -4 route del "${words[@]}" ;;
      route6) ip -6 route del "${words[@]}" ;;
      neigh4 | neigh6) ip "-${kind#neigh}" neigh del proxy "${words[0]}" dev "${words[2]}" ;;
      iptables | ip6tables)
        table=${words[0]} rule=("${words[@]:1}")
        rule[0]=-D
        "$kind" -w -t "$table" "${rule[@]}"
        ;;
      nft) nft delete "${words[@]}" ;;
    esac
  done <"$1" 2>/dev/null
  return 0
}

# kernel_mark NAME: remembers the wharf objects there are now under NAME, for
# check_kernel_unchanged. Fails when it cannot look.
kernel_mark() { wharf_objects >"$E2E_WORK/kernel.$1"; }

# kernel_diff [NAME]: what differs between the objects marked NAME (default: "before", the
# case's baseline, taken by e2e_begin) and now, as diff lines ("+ KIND ..." appeared,
# "- KIND ..." vanished). Fails when it cannot look.
kernel_diff() {
  local now mark=$E2E_WORK/kernel.${1:-before}
  [[ -e $mark ]] || { echo "no kernel mark ${1:-before}" >&2; return 1; }
  now=$(wharf_objects) || return 1
  diff "$mark" <(printf '%s\n' "$now" | grep .) | sed -n 's/^> /+ /p; s/^< /- /p'
  return 0
}

# check_kernel_unchanged DESC [NAME]: the namespace holds exactly the wharf objects it held
# when marked NAME (default: when the case began): none added, none removed.
check_kernel_unchanged() {
  local changes
  if ! changes=$(kernel_diff "${2:-before}"); then
    fail "$1 (could not list the kernel's objects)"
    return 1
  fi
  if [[ -z $changes ]]; then pass "$1"; return 0; fi
  fail "$1 (changed since ${2:-the case began}:)"
  show "$changes"
  return 1
}

# ---------------------------------------------------------------- Open vSwitch

# A private Open vSwitch for a case: ovsdb-server on a unix socket in a temp dir and
# ovs-vswitchd with its own pidfile, unixctl socket and log, in the host namespace, never the
# system's. The kernel has no openvswitch module here: bridges use the userspace datapath
# (datapath_type=netdev), whose ovs-vswitchd makes tap devices (the bridges' own interfaces
# and ovs-netdev). Logs go to $E2E_LOG_DIR/ovs-CASE-*.log.
OVS_DIR=""
OVS_SCHEMA=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
OVS_HOOKED=0

# ovs_vsctl ARGS...: ovs-vsctl against the case's private ovsdb-server.
ovs_vsctl() { ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=10 "$@"; }

# _ovs_pid NAME: the pid in NAME's pidfile (ovsdb-server, ovs-vswitchd), if it runs.
_ovs_pid() {
  local pid
  [[ -n $OVS_DIR && -s $OVS_DIR/$1.pid ]] || return 1
  pid=$(<"$OVS_DIR/$1.pid")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# _ovs_daemon_stop NAME [SIGNAL]: stop that daemon (unixctl "exit" when no signal is given,
# "exit --cleanup" for ovs-vswitchd so that it removes its datapath and taps), KILL after 10 s.
_ovs_daemon_stop() {
  local name=$1 sig=${2:-} pid deadline
  pid=$(_ovs_pid "$name") || return 0
  if [[ -z $sig ]]; then
    local args=(exit)
    [[ $name == ovs-vswitchd ]] && args+=(--cleanup)
    timeout 10 ovs-appctl -t "$OVS_DIR/$name.ctl" "${args[@]}" >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
  else
    kill -"$sig" "$pid" 2>/dev/null
  fi
  deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null; fi
    sleep 0.1
  done
}

# _ovs_db_start: ovsdb-server on the case's DB file and socket, detached; waits until it answers.
_ovs_db_start() {
  ovsdb-server "$OVS_DIR/conf.db" --remote="punix:$OVS_DIR/db.sock" \
    --pidfile="$OVS_DIR/ovsdb-server.pid" --unixctl="$OVS_DIR/ovsdb-server.ctl" \
    --log-file="$E2E_LOG_DIR/ovs-$E2E_CASE-ovsdb-server.log" --detach --no-chdir \
    >>"$E2E_LOG_DIR/ovs-$E2E_CASE-ovsdb-server.log" 2>&1 </dev/null || return 1
  retry 10 ovs_vsctl --no-wait show
}

# ovs_start: the private Open vSwitch up and initialised; the exit trap stops it (ovs_end).
# Refuses when a userspace-datapath OVS already runs in this namespace (its ovs-netdev tap
# would be confused with ours).
ovs_start() {
  local tool
  for tool in ovsdb-tool ovsdb-server ovs-vsctl ovs-vswitchd ovs-appctl; do
    command -v "$tool" >/dev/null || { fail "$tool not found (apt-get install openvswitch-switch)"; return 1; }
  done
  if ip link show dev ovs-netdev >/dev/null 2>&1; then
    fail "another Open vSwitch with a userspace datapath runs here (link ovs-netdev exists); stop it first"
    return 1
  fi
  if ((!OVS_HOOKED)); then e2e_at_exit ovs_end; OVS_HOOKED=1; fi
  OVS_DIR=$(mktemp -d /tmp/wharf-e2e-ovs.XXXXXX)
  local out
  if ! out=$(ovsdb-tool create "$OVS_DIR/conf.db" "$OVS_SCHEMA" 2>&1); then
    fail "ovsdb-tool create $OVS_DIR/conf.db failed"
    show "$out"
    return 1
  fi
  if ! _ovs_db_start; then
    fail "private ovsdb-server did not answer on unix:$OVS_DIR/db.sock"
    show "$(tail -n 20 "$E2E_LOG_DIR/ovs-$E2E_CASE-ovsdb-server.log" 2>&1)"
    return 1
  fi
  if ! out=$(ovs_vsctl --no-wait init 2>&1); then
    fail "ovs-vsctl init on the private ovsdb-server failed"
    show "$out"
    return 1
  fi
  local vlog=$E2E_LOG_DIR/ovs-$E2E_CASE-ovs-vswitchd.log
  if ! ovs-vswitchd "unix:$OVS_DIR/db.sock" --pidfile="$OVS_DIR/ovs-vswitchd.pid" \
    --unixctl="$OVS_DIR/ovs-vswitchd.ctl" --log-file="$vlog" --detach --no-chdir \
    >>"$vlog" 2>&1 </dev/null || ! retry 10 ovs-appctl -t "$OVS_DIR/ovs-vswitchd.ctl" version; then
    fail "private ovs-vswitchd did not start"
    show "$(tail -n 20 "$vlog" 2>&1)"
    return 1
  fi
  info "private Open vSwitch in $OVS_DIR (ovsdb unix:$OVS_DIR/db.sock)"
}

# ovs_restart_db [SIGNAL]: kill ovsdb-server (default KILL, as in a crash) and start it again
# on the same DB file and socket; ovs-vswitchd and wharf must reconnect on their own.
ovs_restart_db() {
  _ovs_daemon_stop ovsdb-server "${1:-KILL}"
  if ! _ovs_db_start; then
    fail "the private ovsdb-server did not come back on unix:$OVS_DIR/db.sock"
    show "$(tail -n 20 "$E2E_LOG_DIR/ovs-$E2E_CASE-ovsdb-server.log" 2>&1)"
    return 1
  fi
}

# ovs_wipe_db: ovsdb-server killed and started again on a new, empty (initialised) database,
# as after an Open vSwitch reinstall: ovs-vswitchd then removes every bridge.
ovs_wipe_db() {
  _ovs_daemon_stop ovsdb-server KILL
  if ! { rm -f "$OVS_DIR/conf.db" &&
    ovsdb-tool create "$OVS_DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema &&
    _ovs_db_start && ovs_vsctl --no-wait init; }; then
    fail "the private ovsdb-server did not come back with an empty database"
    return 1
  fi
}

# ovs_stop: stop the private Open vSwitch, then make sure the taps its datapath made (the
# bridges' own interfaces, ovs-netdev) are gone, deleting any left; removes its directory.
ovs_stop() {
  [[ -n $OVS_DIR ]] || return 0
  local taps t left=()
  taps=$({ ovs_vsctl --bare --columns=name find Interface type=internal; echo ovs-netdev; } 2>/dev/null | grep . | sort -u)
  _ovs_daemon_stop ovs-vswitchd
  _ovs_daemon_stop ovsdb-server
  for t in $taps; do
    # Only tun devices: the datapath's taps, never a link of the same name of another kind.
    ip -d link show dev "$t" 2>/dev/null | grep -qw tun || continue
    info "ovs_stop: tap $t outlived ovs-vswitchd; deleting it"
    ip link del dev "$t" 2>/dev/null
    ip link show dev "$t" >/dev/null 2>&1 && left+=("$t")
  done
  ((${#left[@]} == 0)) || fail "ovs_stop: cannot delete the taps ${left[*]}"
  rm -rf "$OVS_DIR"
  OVS_DIR=""
}

# ovs_end: the exit hook. Open vSwitch rows wharf owns that outlived the case's networks are a
# leak (a failure), then OVS is stopped.
ovs_end() {
  local owned
  if [[ -n $(_ovs_pid ovsdb-server) ]] && owned=$(ovs_owned) && [[ -n $owned ]]; then
    fail "Open vSwitch rows owned by wharf left after the case's networks were removed:"
    show "$owned"
  fi
  ovs_stop
}

# ovs_owned: the Bridge, Port and Interface rows whose external_ids:wharf is "owned", one per
# line as "TABLE NAME", sorted. Fails when they cannot be listed.
ovs_owned() {
  local t out all=""
  for t in Bridge Port Interface; do
    out=$(ovs_vsctl --bare --columns=name find "$t" external_ids:wharf=owned) || return 1
    all+=$(grep . <<<"$out" | sed "s/^/$t /")$'\n'
  done
  grep . <<<"$all" | sort
  return 0
}

# ovs_diag: what to look at when an OVS check failed: wharf's log tail, ovs-vsctl show, the
# NAT table, wharf's routes.
ovs_diag() {
  echo "    --- diagnostics ($(date +%T))"
  echo "    wharf log tail ($WHARF_LOG):"
  wharf_log_tail 15 | sed 's/^/      | /'
  echo "    ovs-vsctl show:"
  ovs_vsctl show 2>&1 | head -n 60 | sed 's/^/      | /'
  echo "    nft list table inet wharf_nat:"
  nft list table inet wharf_nat 2>&1 | head -n 60 | sed 's/^/      | /'
  echo "    ip route show proto 87:"
  ip route show proto 87 2>&1 | head -n 20 | sed 's/^/      | /'
}

# ---------------------------------------------------------------- case life cycle

# e2e_at_exit FUNCTION: call FUNCTION when the case ends, however it ends, after its docker
# objects are removed and its leftovers counted (last registered, first called).
E2E_EXIT_HOOKS=()
e2e_at_exit() { E2E_EXIT_HOOKS+=("$1"); }

e2e_cleanup() {
  local rc=$? c n i fails changes
  trap - EXIT INT TERM
  while read -r c; do "$DOCKER" rm -f "$c" >/dev/null 2>&1 || true; done <"$E2E_WORK/containers"
  while read -r n; do
    "$DOCKER" network inspect "$n" >/dev/null 2>&1 || continue
    "$DOCKER" network rm "$n" >/dev/null 2>&1 || fail "cleanup: docker network rm $n failed"
  done <"$E2E_WORK/networks"
  # Leftovers: whatever the case's networks and containers left in the kernel once Docker
  # removed them is a leak, which fails the case; then only those objects are removed.
  if [[ -e $E2E_WORK/kernel.before ]]; then
    if ! changes=$(kernel_diff); then
      fail "cleanup: could not list the kernel's objects to look for leftovers"
    elif [[ -n $changes ]]; then
      fail "wharf objects added or removed by this case, left after everything was removed:"
      show "$changes"
    fi
  fi
  wharf_kill TERM
  for ((i = ${#E2E_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do "${E2E_EXIT_HOOKS[i]}"; done
  if [[ -n ${changes:-} ]]; then
    sed -n 's/^+ //p' <<<"$changes" >"$E2E_WORK/leaked"
    wharf_objects_remove "$E2E_WORK/leaked"
  fi
  [[ -n $WHARF_STATE ]] && rm -rf "$WHARF_STATE"
  if [[ -z ${E2E_SUITE:-} ]]; then
    ((DOCKERD_STARTED_HERE)) && dockerd_stop
    guard_remove
  fi
  fails=$(count FAIL)
  if ((fails > 0)) && [[ -n $WHARF_LOG && -f $WHARF_LOG ]]; then
    echo "    wharf log tail ($WHARF_LOG):"
    tail -n 25 "$WHARF_LOG" | sed 's/^/      | /'
  fi
  if ((rc != 0)); then echo "    the case script itself ended with status $rc"; fi
  echo "CASE $E2E_CASE: $(count PASS) checks passed, $fails failed"
  rm -rf "$E2E_WORK"
  if ((fails > 0 || rc != 0)); then exit 1; fi
  exit 0
}

# e2e_begin NAME: dockerd up, image built, the traffic guard in place, no wharf object in
# the namespace (the baseline leftovers are measured against), a fresh wharf on the default
# socket, traps set.
e2e_begin() {
  E2E_CASE=$1
  echo "=== $E2E_CASE"
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  [[ $(id -u) -eq 0 ]] || { fail "must run as root"; exit 1; }
  if [[ -z ${E2E_SUITE:-} ]]; then
    guard_install || { fail "cannot keep test traffic on this machine (tests/lib/guard.sh)"; exit 1; }
  elif ! guard_check; then
    fail "the suite's traffic guard is not in place (tests/lib/guard.sh)"
    exit 1
  fi
  dockerd_start || { fail "cannot start dockerd"; exit 1; }
  image_build || { fail "cannot build $IMAGE"; exit 1; }
  if plugin_activated; then fail "another wharf already answers on $WHARF_SOCK; stop it first"; exit 1; fi
  if ! kernel_mark before; then
    rm -f "$E2E_WORK/kernel.before"
    fail "cannot list the kernel's objects (ip, iptables-save, ip6tables-save, nft)"
    exit 1
  fi
  if [[ -s $E2E_WORK/kernel.before ]]; then
    fail "wharf objects are in this namespace before the case: another wharf runs here, or an earlier run left them; remove them first:"
    show "$(cat "$E2E_WORK/kernel.before")"
    rm -f "$E2E_WORK/kernel.before"
    exit 1
  fi
  wharf_start || exit 1
}

# e2e_end: explicit end of a case (the EXIT trap reports and cleans up).
e2e_end() { exit 0; }
