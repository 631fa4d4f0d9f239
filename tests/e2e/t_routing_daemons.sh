#!/usr/bin/env bash
# The operator's own routing daemon spreads wharf's container routes: the example files in
# examples/routing/, used verbatim, against real FRR 8.4 and BIRD 2.0.
#
# Three hosts as in t_multihost (a network namespace each, with its own dockerd and its own
# wharf, plugin wharf-rN, --host-block 10.90.N.0/24 and fd5e:90:0:N::/64), their cables (eth0
# inside each host, 198.51.100.1N/24 and fd5e:90:ff::1N/64) on a bridge in a segment
# namespace; one dual-stack routed network 10.90.0.0/16 + fd5e:90::/48 on each host. wharf
# runs with --routing external and only installs its /32s and /128s (proto 87); then
#   a. FRR zebra + ospfd + ospf6d on every host (frr-zebra.conf, frr-ospfd.conf,
#      frr-ospf6d.conf),
#   b. BIRD with OSPF on every host (bird-ospf.conf),
#   c. a mix over eBGP: host 1 wharf's own speaker (AS 65001), host 2 FRR zebra + bgpd
#      (frr-bgpd.conf, AS 65002), host 3 BIRD (bird-bgp.conf, AS 65003).
# In a, b and c: every host learns the others' container /32s and /128s, containers ping
# across hosts over IPv4 and IPv6. In a and b also:
# a removed container's /32 is withdrawn everywhere (timed, never judged on the time), and a
# restarted wharf (TERM, then KILL) deletes none of its routes, on its host or elsewhere
# (ip monitor watches all three hosts, and the container's link on its own); `wharf status`
# names the daemon reading wharf's routes and lists the learned /32s and /128s; host 2's IPAM
# keeps off an IPv4 and an IPv6 address OSPF routes to host 1 (FRR); a daemon that stops takes
# its routes with it.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

EX_DIR=$REPO_ROOT/examples/routing
RD_DIR=$(mktemp -d /tmp/wharf-e2e-rd.XXXXXX)
chmod 755 "$RD_DIR" # FRR runs as user frr and must reach its directories
SEG_NS=e2e-rd-seg-$$
HOSTS=(1 2 3)
host_ns() { echo "e2e-rd-h$1-$$"; }
host_sock() { echo "$RD_DIR/h$1/docker.sock"; }
plugin_sock() { echo "/run/docker/plugins/wharf-r$1-$$.sock"; }
plugin_name() { echo "wharf-r$1-$$"; }
dh() { local n=$1; shift; "$DOCKER" -H "unix://$(host_sock "$n")" "$@"; }
hroutes() { local n=$1; shift; ip -n "$(host_ns "$n")" route show "$@"; }
hroutes6() { local n=$1; shift; ip -n "$(host_ns "$n")" -6 route show "$@"; }
# v6_of N: host N's container cN's IPv6 address, the first of host N's block.
v6_of() { echo "fd5e:90:0:$1::1"; }
# wharf installs the routes and leaves their distribution to the daemons; or, on host 1 in
# the BGP mix, runs its own speaker.
ROUTING_EXTERNAL=(--routing external) ROUTING_BGP=(--routing bgp)

# Daemons this case started, by pid file: FRR's and BIRD's write their own.
daemon_pids() { cat "$RD_DIR"/h*/frr/*.pid "$RD_DIR"/h*/bird/bird.pid 2>/dev/null; }
rd_cleanup() {
  local n pid
  for pid in $(jobs -p); do kill "$pid" 2>/dev/null; done # ip monitor, watchers
  for n in "${HOSTS[@]}"; do
    [[ -S $(host_sock "$n") ]] || continue
    dh "$n" ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://$(host_sock "$n")" rm -f >/dev/null 2>&1
    dh "$n" network rm rd >/dev/null 2>&1
  done
  for pid in $(daemon_pids); do kill "$pid" 2>/dev/null; done
  for n in "${HOSTS[@]}"; do
    for pid in "$RD_DIR/h$n/wharf.pid" "$RD_DIR/h$n/dockerd.pid"; do
      [[ -s $pid ]] && kill "$(<"$pid")" 2>/dev/null
    done
  done
  for n in "${HOSTS[@]}"; do
    pid=$RD_DIR/h$n/dockerd.pid
    for _ in $(seq 60); do
      if [[ -s $pid ]] && kill -0 "$(<"$pid")" 2>/dev/null; then sleep 0.5; else break; fi
    done
    rm -f "$(plugin_sock "$n")"
    ip netns del "$(host_ns "$n")" 2>/dev/null
  done
  for pid in $(daemon_pids); do kill -KILL "$pid" 2>/dev/null; done
  ip netns del "$SEG_NS" 2>/dev/null
  umount -R "$RD_DIR"/h*/exec 2>/dev/null
  rm -rf "$RD_DIR"
}
e2e_begin t_routing_daemons
e2e_at_exit rd_cleanup

for f in frr-zebra.conf frr-ospfd.conf frr-ospf6d.conf frr-bgpd.conf bird-ospf.conf bird-bgp.conf; do
  [[ -s $EX_DIR/$f ]] || { fail "examples/routing/$f is missing"; exit 1; }
done

# The segment: a bridge in its own namespace, one cable per host, named eth0 in the host.
setup_segment() {
  local n ns
  ip netns add "$SEG_NS" || return 1
  ip -n "$SEG_NS" link add seg type bridge || return 1
  ip -n "$SEG_NS" link set seg up || return 1
  for n in "${HOSTS[@]}"; do
    ns=$(host_ns "$n")
    ip netns add "$ns" || return 1
    ip -n "$ns" link add eth0 type veth peer name "h$n" netns "$SEG_NS" || return 1
    ip -n "$SEG_NS" link set "h$n" master seg up || return 1
    ip -n "$ns" addr add "198.51.100.1$n/24" dev eth0 || return 1
    # A global IPv6 address too: BGP's IPv6 next hops over the IPv4 sessions are these.
    ip -n "$ns" addr add "fd5e:90:ff::1$n/64" dev eth0 nodad || return 1
    ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up || return 1
  done
}
check "three hosts on one segment (namespaces, eth0 198.51.100.11-13, fd5e:90:ff::11-13)" setup_segment || exit 1

"$DOCKER" save "$IMAGE" -o "$RD_DIR/image.tar" || { fail "docker save $IMAGE"; exit 1; }

# start_host N: its dockerd (NOTES.md's recipe), the test image in it, its wharf.
start_host() {
  local n=$1 d=$RD_DIR/h$1
  mkdir -p "$d"
  setsid nsenter --net="/run/netns/$(host_ns "$n")" dockerd --data-root "$d/data" --exec-root "$d/exec" \
    -H "unix://$d/docker.sock" --pidfile "$d/dockerd.pid" --bridge=none --iptables=false \
    >"$E2E_LOG_DIR/rd-dockerd-h$n.log" 2>&1 </dev/null &
  retry 60 dh "$n" info || { show "$(tail -n 20 "$E2E_LOG_DIR/rd-dockerd-h$n.log")"; return 1; }
  dh "$n" load -q -i "$RD_DIR/image.tar" >/dev/null || return 1
  start_wharf "$n" "${ROUTING_EXTERNAL[@]}"
}
# start_wharf N ARGS...: host N's wharf with ARGS, answering on its plugin socket.
start_wharf() {
  local n=$1 d=$RD_DIR/h$1
  shift
  echo "--- $(date +%T.%N) wharf serve $*" >>"$E2E_LOG_DIR/rd-wharf-h$n.log"
  setsid nsenter --net="/run/netns/$(host_ns "$n")" "$WHARF_BIN" serve --socket "$(plugin_sock "$n")" \
    --state-dir "$d/state" --docker-socket "$d/docker.sock" --debug \
    --host-block "10.90.$n.0/24" --host-block "fd5e:90:0:$n::/64" "$@" >>"$E2E_LOG_DIR/rd-wharf-h$n.log" 2>&1 </dev/null &
  echo $! >"$d/wharf.pid"
  PLUGIN_SOCK=$(plugin_sock "$n") retry 20 plugin_activated
}
# stop_wharf N SIGNAL: signal host N's wharf and wait until it is gone.
stop_wharf() {
  local pid
  pid=$(<"$RD_DIR/h$1/wharf.pid")
  kill -"$2" "$pid" || return 1
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}
for n in "${HOSTS[@]}"; do
  check "host $n: dockerd, the image and wharf ${ROUTING_EXTERNAL[*]} (plugin $(plugin_name "$n")) start" \
    start_host "$n" || exit 1
done
for n in "${HOSTS[@]}"; do
  check "host $n: network create rd 10.90.0.0/16 + fd5e:90::/48 -d $(plugin_name "$n")" dh "$n" network create \
    -d "$(plugin_name "$n")" --ipam-driver "$(plugin_name "$n")" --subnet 10.90.0.0/16 \
    --gateway 10.90.0.1 --ipv6 --subnet fd5e:90::/48 --gateway fd5e:90::1 rd || exit 1
  check "host $n: run c$n" dh "$n" run -d --name "rd-c$n" --net rd "$IMAGE" sleep 1d || exit 1
  check_out_match "host $n: c$n has 10.90.$n.1 and its route is wharf's (proto 87)" \
    "^10\\.90\\.$n\\.1 dev wh[0-9a-f]+ proto 87 scope link" hroutes "$n" "10.90.$n.1/32"
  check_out_match "host $n: c$n has $(v6_of "$n") from host $n's IPv6 block and its route is wharf's (proto 87)" \
    "^$(v6_of "$n") dev wh[0-9a-f]+ proto 87 metric 1024" hroutes6 "$n" "$(v6_of "$n")/128"
done

# ---------------------------------------------------------------- the daemons
# FRR: zebra drops to user frr, so each host's files live in a directory frr owns; pid files,
# vty sockets and zebra's API socket are the host's own, never the system's defaults.
frr_dir() { echo "$RD_DIR/h$1/frr"; }
frr_vtysh() { ip netns exec "$(host_ns "$1")" vtysh --vty_socket "$(frr_dir "$1")" -c "$2" 2>&1; }
# frr_start N DAEMON...: zebra, then each DAEMON, with the example files as they are.
frr_start() {
  local n=$1 d daemon
  d=$(frr_dir "$n")
  shift
  mkdir -p "$d"
  for daemon in zebra "$@"; do
    cp "$EX_DIR/frr-$daemon.conf" "$d/" || return 1
  done
  chown -R frr:frr "$d"
  for daemon in zebra "$@"; do
    ip netns exec "$(host_ns "$n")" "/usr/lib/frr/$daemon" -d -f "$d/frr-$daemon.conf" \
      -i "$d/$daemon.pid" --vty_socket "$d" -z "$d/zserv.api" \
      >>"$E2E_LOG_DIR/rd-frr-h$n.log" 2>&1 || return 1
    if [[ $daemon == zebra ]]; then retry 10 test -S "$d/zserv.api" || return 1; fi
  done
}
# stop_pidfile FILE: TERM the daemon and wait until it has exited.
stop_pidfile() {
  local pid
  [[ -s $1 ]] || return 0
  pid=$(<"$1")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }; sleep 0.1; done
  return 1
}
frr_stop() {
  local n=$1 daemon
  shift
  for daemon in "$@" zebra; do stop_pidfile "$(frr_dir "$n")/$daemon.pid" || return 1; done
}
bird_dir() { echo "$RD_DIR/h$1/bird"; }
# birdc_h N COMMAND: the command as one argument (birdc 2.0.12 answered "No such command" here
# to a command split over several).
birdc_h() { birdc -s "$(bird_dir "$1")/bird.ctl" "$2" 2>&1; }
# bird_start N FILE: BIRD as root with the example file as it is.
bird_start() {
  local n=$1 d
  d=$(bird_dir "$n")
  mkdir -p "$d"
  cp "$EX_DIR/$2" "$d/" || return 1
  ip netns exec "$(host_ns "$n")" bird -c "$d/$2" -s "$d/bird.ctl" -P "$d/bird.pid" \
    >>"$E2E_LOG_DIR/rd-bird-h$n.log" 2>&1 || return 1
  retry 10 test -S "$d/bird.ctl"
}
bird_stop() { stop_pidfile "$(bird_dir "$1")/bird.pid"; }

# ---------------------------------------------------------------- shared checks
# check_learned PROTO WHAT: every host has the others' c/32s as PROTO routes.
# One 30 s wait for them all, so that a daemon that learns nothing fails in 30 s, not 180.
check_learned() {
  local proto=$1 n m deadline=$((SECONDS + 30))
  for n in "${HOSTS[@]}"; do
    for m in "${HOSTS[@]}"; do
      ((m == n)) && continue
      if retry "$((deadline > SECONDS ? deadline - SECONDS : 0))" bash -c "ip -n $(host_ns "$n") route show 10.90.$m.1/32 proto $proto | grep -q 'via 198\\.51\\.100\\.1$m dev eth0'"; then
        pass "$2: host $n learned c$m's 10.90.$m.1/32 via host $m (proto $proto)"
      else
        fail "$2: host $n has no proto $proto route to c$m"
        show "$(hroutes "$n")"
      fi
      # IPv6: the next hop is whichever address of host m's eth0 the daemon picked (OSPFv3:
      # its link-local one), so the check is the interface; the routes are shown once.
      if retry "$((deadline > SECONDS ? deadline - SECONDS : 0))" bash -c "ip -n $(host_ns "$n") -6 route show $(v6_of "$m")/128 proto $proto | grep -q 'via .* dev eth0'"; then
        pass "$2: host $n learned c$m's $(v6_of "$m")/128 over eth0 (proto $proto)"
      else
        fail "$2: host $n has no proto $proto route to c$m's $(v6_of "$m")"
        show "$(hroutes6 "$n")"
      fi
    done
  done
  info "$2: IPv6 routes host 1 learned: $(hroutes6 1 proto "$proto" | tr '\n' ';')"
}
# check_status N DAEMON WHAT: host N's `wharf status` sees DAEMON reading wharf's routes and
# the routes to the other hosts' containers that the daemon installed.
check_status() {
  local out m
  out=$("$WHARF_BIN" status --socket "$(plugin_sock "$1")" 2>&1)
  check_match "$3: host $1's wharf status names $2 as reading its routes" "read by $2 \\(pid" "$out"
  for m in "${HOSTS[@]}"; do
    ((m == $1)) && continue
    check_match "$3: host $1's wharf status lists c$m's route as learned" \
      "10\\.90\\.$m\\.1/32 via 198\\.51\\.100\\.1$m dev eth0" "$out"
    check_match "$3: host $1's wharf status lists c$m's IPv6 route as learned" \
      "$(v6_of "$m")/128 via [0-9a-f:]+ dev eth0" "$out"
  done
}
check_pings() {
  local n m
  for n in "${HOSTS[@]}"; do
    for m in "${HOSTS[@]}"; do
      ((m == n)) && continue
      check "$1: c$n on host $n pings c$m on host $m (10.90.$m.1)" dh "$n" exec "rd-c$n" ping -c 1 -W 2 "10.90.$m.1"
      check "$1: c$n on host $n pings c$m on host $m over IPv6 ($(v6_of "$m"))" dh "$n" exec "rd-c$n" ping6 -c 1 -W 2 "$(v6_of "$m")"
    done
  done
}
# deleted_at FILE ADDRESS [LINK]: when `ip -ts monitor` (in FILE) saw ADDRESS's route, or LINK,
# deleted, in seconds since the epoch. (The kernel sends no route deletion for the routes that
# go with a deleted link: on x's own host its route ends with its link.)
deleted_at() {
  local ts re="Deleted ${2//./\\.} "
  [[ -n ${3:-} ]] && re="($re|Deleted [0-9]+: $3[@:])"
  ts=$(grep -m 1 -E "^\[[^]]*\] $re" "$1" | sed -E 's/^\[([^]]*)\].*/\1/')
  [[ -n $ts ]] && date -d "$ts" +%s.%N
}
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
# watch_routes NAME: `ip -ts monitor` on every host into $RD_DIR/NAME-N, routes and, on host
# 1, links too (routes that go with a link go without a message of their own); until
# unwatch_routes.
WATCHERS=()
watch_routes() {
  local n groups
  for n in "${HOSTS[@]}"; do
    groups=(route)
    ((n == 1)) && groups+=(link)
    ip -ts -n "$(host_ns "$n")" monitor "${groups[@]}" >"$RD_DIR/$1-$n" 2>&1 &
    WATCHERS+=($!)
  done
  sleep 0.3
}
unwatch_routes() {
  kill "${WATCHERS[@]}" 2>/dev/null
  wait "${WATCHERS[@]}" 2>/dev/null
  WATCHERS=()
}
# check_withdraw PROTO WHAT: a container x on host 1 is learned by hosts 2 and 3, lives a
# moment longer, then docker rm -f; its /32 leaves every host. The times are reported, never
# judged. (x's address is read from Docker: wharf does not hand out a released one at once.)
check_withdraw() {
  local proto=$1 what=$2 n ok=1 times="" x xdev start local1
  check "$what: host 1: run x" dh 1 run -d --name rd-x --net rd "$IMAGE" sleep 1d || return 1
  x=$(dh 1 inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' rd-x)
  for n in 2 3; do
    if ! retry 30 bash -c "ip -n $(host_ns "$n") route show $x/32 proto $proto | grep -q ."; then
      fail "$what: host $n never learned x's $x/32"
      dh 1 rm -f rd-x >/dev/null 2>&1
      return 1
    fi
  done
  pass "$what: hosts 2 and 3 learned x's $x/32"
  # A route gone within about a second of its announcement is withdrawn only seconds later by
  # FRR's ospfd (its LSA arrival and interval limits); containers live longer than that.
  sleep 1.5
  xdev=$(hroutes 1 "$x/32" | awk '{ print $3 }')
  watch_routes wd
  start=$(date +%s.%N)
  check "$what: host 1: docker rm -f x" dh 1 rm -f rd-x
  for n in "${HOSTS[@]}"; do
    if retry 20 deleted_at "$RD_DIR/wd-$n" "$x" "$xdev"; then
      pass "$what: x's $x/32 is gone at host $n"
    else
      fail "$what: host $n still routes to x's $x"
      show "$(hroutes "$n" "$x/32")"
      ok=0
    fi
  done
  unwatch_routes
  ((ok)) || return 1
  local1=$(deleted_at "$RD_DIR/wd-1" "$x" "$xdev")
  for n in 2 3; do
    times+=", at host $n after $(ms_between "$local1" "$(deleted_at "$RD_DIR/wd-$n" "$x")") ms"
  done
  info "$what: withdrawal of a removed container (ip -ts monitor route): x's route (its link) deleted on host 1 $(ms_between "$start" "$local1") ms after docker rm -f began; from then$times"
}
# check_restarts WHAT: host 1's wharf is restarted (TERM, then KILL) while ip monitor watches
# every host: no deletion of host 1's c1 (10.90.1.1) anywhere, and on host 1 neither of its
# route nor of its link (whose routes would go without a message of their own).
check_restarts() {
  local what=$1 n sig out c1dev
  c1dev=$(hroutes 1 10.90.1.1/32 | awk '{ print $3 }')
  watch_routes mon
  for sig in TERM KILL; do
    check "$what: host 1: wharf stops ($sig)" stop_wharf 1 "$sig"
    check "$what: host 1: wharf starts again" start_wharf 1 "${ROUTING_EXTERNAL[@]}"
    # Room for whatever a start does late (its first sync with the kernel, the daemons' answer).
    sleep 2
  done
  unwatch_routes
  for n in "${HOSTS[@]}"; do
    out=$(grep -E "^\[[^]]*\] Deleted (10\.90\.1\.1 |[0-9]+: ${c1dev}[@:])" "$RD_DIR/mon-$n")
    if [[ -z $out ]]; then
      pass "$what: host $n saw no deletion of c1's 10.90.1.1/32 while host 1's wharf restarted twice"
    else
      fail "$what: host $n deleted c1's route while host 1's wharf restarted (ip monitor):"
      show "$(grep -E "10\.90\.1\.1 |$c1dev" "$RD_DIR/mon-$n")"
    fi
  done
  check_out_match "$what: host 1 still has c1's proto 87 route" '^10\.90\.1\.1 dev wh[0-9a-f]+ proto 87' hroutes 1 10.90.1.1/32
  check "$what: c2 on host 2 still pings c1 on host 1" dh 2 exec rd-c2 ping -c 1 -W 2 10.90.1.1
}
# check_gone PROTO WHAT: once the daemons stopped, no host has a PROTO route left.
check_gone() {
  local n
  for n in "${HOSTS[@]}"; do
    if retry 10 bash -c "! ip -n $(host_ns "$n") route show proto $1 | grep -q ."; then
      pass "$2: host $n has no proto $1 route left"
    else
      fail "$2: host $n keeps proto $1 routes after the daemon stopped"
      show "$(hroutes "$n" proto "$1")"
    fi
    if retry 10 bash -c "! ip -n $(host_ns "$n") -6 route show proto $1 | grep -q ."; then
      pass "$2: host $n has no IPv6 proto $1 route left"
    else
      fail "$2: host $n keeps IPv6 proto $1 routes after the daemon stopped"
      show "$(hroutes6 "$n" proto "$1")"
    fi
  done
  check_out_match "$2: host 1 still has c1's proto 87 route" '^10\.90\.1\.1 dev wh' hroutes 1 10.90.1.1/32
}

# ---------------------------------------------------------------- a. FRR, OSPF
for n in "${HOSTS[@]}"; do
  check "FRR: host $n: zebra, ospfd and ospf6d start with frr-zebra.conf, frr-ospfd.conf and frr-ospf6d.conf" \
    frr_start "$n" ospfd ospf6d || exit 1
done
check_learned ospf "FRR OSPF"
check_status 2 zebra "FRR OSPF"
# wharf follows the daemon's host routes: an address OSPF says is on another host is not
# handed out here, even when asked for by name.
check_fails "FRR OSPF: host 2 refuses c1's 10.90.1.1 (--ip), which OSPF routes to host 1" \
  "10\.90\.1\.1 .*used on another host" dh 2 run -d --name rd-dup --net rd --ip 10.90.1.1 "$IMAGE" sleep 1d
dh 2 rm -f rd-dup >/dev/null 2>&1
check_fails "FRR OSPF: host 2 refuses c1's $(v6_of 1) (--ip6), which OSPFv3 routes to host 1" \
  "$(v6_of 1) .*used on another host" dh 2 run -d --name rd-dup --net rd --ip6 "$(v6_of 1)" "$IMAGE" sleep 1d
dh 2 rm -f rd-dup >/dev/null 2>&1
check_pings "FRR OSPF"
check_withdraw ospf "FRR OSPF"
check_restarts "FRR OSPF"
for n in "${HOSTS[@]}"; do check "FRR: host $n: ospf6d, ospfd and zebra stop (TERM)" frr_stop "$n" ospf6d ospfd; done
check_gone ospf "FRR OSPF"

# ---------------------------------------------------------------- b. BIRD, OSPF
for n in "${HOSTS[@]}"; do
  check "BIRD: host $n: bird starts with bird-ospf.conf" bird_start "$n" bird-ospf.conf || exit 1
done
check_learned bird "BIRD OSPF"
check_status 2 bird "BIRD OSPF"
check_out_no_match "BIRD OSPF: host 2 exports only wharf's routes (no 198.51.100.0/24 as external)" \
  '198\.51\.100\.0/24' birdc_h 2 'show route export ospf4'
check_out_no_match "BIRD OSPF: host 2 exports only wharf's IPv6 routes (no fd5e:90:ff::/64 as external)" \
  'fd5e:90:ff::' birdc_h 2 'show route export ospf6'
check_out_match "BIRD OSPF: host 2 exports its c2's $(v6_of 2)/128 into OSPFv3" \
  "^$(v6_of 2)/128" birdc_h 2 'show route export ospf6'
check_out_no_match "BIRD OSPF: host 2 installs no OSPF route for the segment it is on" \
  '^198\.51\.100\.' hroutes 2 proto bird
check_out_no_match "BIRD OSPF: host 2 installs no OSPFv3 route for the segment it is on" \
  '^fd5e:90:ff::' hroutes6 2 proto bird
check_pings "BIRD OSPF"
check_withdraw bird "BIRD OSPF"
check_restarts "BIRD OSPF"
for n in "${HOSTS[@]}"; do check "BIRD: host $n: bird stops (TERM)" bird_stop "$n"; done
check_gone bird "BIRD OSPF"

# ---------------------------------------------------------------- c. eBGP: wharf, FRR, BIRD
check "BGP: host 1: wharf stops (TERM)" stop_wharf 1 TERM
check "BGP: host 1: wharf starts with its speaker (AS 65001, peers 198.51.100.12 and .13)" start_wharf 1 \
  "${ROUTING_BGP[@]}" --bgp-asn 65001 --bgp-router-id 198.51.100.11 --bgp-peer 198.51.100.12@65002 --bgp-peer 198.51.100.13@65003
check "BGP: host 2: zebra and bgpd start with frr-zebra.conf and frr-bgpd.conf" frr_start 2 bgpd
check "BGP: host 3: bird starts with bird-bgp.conf" bird_start 3 bird-bgp.conf
if retry 30 bash -c "[[ \$('$WHARF_BIN' bgp neighbors --socket '$(plugin_sock 1)' | grep -c Established) == 2 ]]"; then
  pass "BGP: host 1's wharf has both sessions Established"
else
  fail "BGP: host 1's wharf lacks a session"
  show "$("$WHARF_BIN" bgp neighbors --socket "$(plugin_sock 1)" 2>&1)"
fi
bgp_learned() { # bgp_learned N M PROTO, all of them within 30 s of the sessions
  if retry "$((bgp_deadline > SECONDS ? bgp_deadline - SECONDS : 0))" bash -c "ip -n $(host_ns "$1") route show 10.90.$2.1/32 proto $3 | grep -q 'via 198\\.51\\.100\\.1$2 dev eth0'"; then
    pass "BGP: host $1 learned c$2's 10.90.$2.1/32 via host $2 (proto $3)"
  else
    fail "BGP: host $1 has no proto $3 route to c$2"
    show "$(hroutes "$1")"
  fi
  # IPv6 over the IPv4 sessions: the next hop is an IPv6 address of host M's eth0 (global
  # or link-local, the sender's and the receiver's choice), reached over eth0.
  if retry "$((bgp_deadline > SECONDS ? bgp_deadline - SECONDS : 0))" bash -c "ip -n $(host_ns "$1") -6 route show $(v6_of "$2")/128 proto $3 | grep -q 'via .* dev eth0'"; then
    pass "BGP: host $1 learned c$2's $(v6_of "$2")/128 over eth0 (proto $3): $(hroutes6 "$1" "$(v6_of "$2")/128")"
  else
    fail "BGP: host $1 has no IPv6 proto $3 route to c$2"
    show "$(hroutes6 "$1")"
  fi
}
bgp_deadline=$((SECONDS + 30))
bgp_learned 1 2 88
bgp_learned 1 3 88
bgp_learned 2 1 bgp
bgp_learned 2 3 bgp
bgp_learned 3 1 bird
bgp_learned 3 2 bird
check_pings "BGP"
check_out_no_match "BGP: FRR on host 2 passes nothing of host 3's on to host 1" '10\.90\.3\.' \
  frr_vtysh 2 'show bgp ipv4 unicast neighbors 198.51.100.11 advertised-routes'
check_out_no_match "BGP: FRR on host 2 passes nothing of host 3's IPv6 on to host 1" 'fd5e:90:0:3:' \
  frr_vtysh 2 'show bgp ipv6 unicast neighbors 198.51.100.11 advertised-routes'
check_out_match "BGP: FRR on host 2 offers host 1 its own c2's IPv6" "$(v6_of 2)/128" \
  frr_vtysh 2 'show bgp ipv6 unicast neighbors 198.51.100.11 advertised-routes'
check_out_no_match "BGP: BIRD on host 3 passes nothing of host 2's on to host 1" '10\.90\.2\.|fd5e:90:0:2:' \
  birdc_h 3 'show route export host_a'
check_out_match "BGP: BIRD on host 3 offers host 1 its own c3's IPv6" "^$(v6_of 3)/128" \
  birdc_h 3 'show route export host_a.ipv6'
check_out_match "BGP: BIRD on host 3 offers host 1 its own c3" '10\.90\.3\.1/32' birdc_h 3 'show route export host_a'
check "BGP: host 2: bgpd and zebra stop (TERM)" frr_stop 2 bgpd
check "BGP: host 3: bird stops (TERM)" bird_stop 3
e2e_end
