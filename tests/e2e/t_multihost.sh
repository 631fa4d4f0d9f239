#!/usr/bin/env bash
# Three hosts, the seed's story: each "host" is a network namespace with its own dockerd
# (NOTES.md's recipe: nsenter, its own data and exec roots and socket) and its own wharf (its
# own plugin name, wharf-hN, since every dockerd scans /run/docker/plugins), all on one
# segment with a router namespace running FRR's bgpd as an iBGP route reflector (AS 65000).
# One routed network spans the hosts (10.90.0.0/16, each host giving out its --host-block
# 10.90.N.0/24); a container on each host reaches the others through routes learned over
# BGP; removing a container, or stopping a host's wharf, withdraws its routes everywhere.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

MH_DIR=$(mktemp -d /tmp/wharf-e2e-mh.XXXXXX)
chmod 755 "$MH_DIR" # FRR runs as user frr and must reach its directory
ROUTER_NS=e2e-mh-router-$$
HOSTS=(1 2 3)
host_ns() { echo "e2e-mh-h$1-$$"; }
host_sock() { echo "$MH_DIR/h$1/docker.sock"; }
plugin_sock() { echo "/run/docker/plugins/wharf-h$1-$$.sock"; }
plugin_name() { echo "wharf-h$1-$$"; }
dh() { local n=$1; shift; "$DOCKER" -H "unix://$(host_sock "$n")" "$@"; }
wharf_h() { local n=$1; shift; "$WHARF_BIN" "$@" --socket "$(plugin_sock "$n")"; }
learned() { ip -n "$(host_ns "$1")" route show proto 88; }

mh_cleanup() {
  local n pid
  for n in "${HOSTS[@]}"; do
    [[ -S $(host_sock "$n") ]] || continue
    dh "$n" ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://$(host_sock "$n")" rm -f >/dev/null 2>&1
    dh "$n" network rm mh >/dev/null 2>&1
  done
  for n in "${HOSTS[@]}"; do
    for pid in "$MH_DIR/h$n/wharf.pid" "$MH_DIR/h$n/dockerd.pid"; do
      [[ -s $pid ]] && kill "$(<"$pid")" 2>/dev/null
    done
  done
  [[ -s $MH_DIR/router/bgpd.pid ]] && kill "$(<"$MH_DIR/router/bgpd.pid")" 2>/dev/null
  for n in "${HOSTS[@]}"; do
    pid=$MH_DIR/h$n/dockerd.pid
    for _ in $(seq 60); do
      if [[ -s $pid ]] && kill -0 "$(<"$pid")" 2>/dev/null; then sleep 0.5; else break; fi
    done
    rm -f "$(plugin_sock "$n")"
    ip netns del "$(host_ns "$n")" 2>/dev/null
  done
  ip netns del "$ROUTER_NS" 2>/dev/null
  umount -R "$MH_DIR"/h*/exec 2>/dev/null
  rm -rf "$MH_DIR"
}
e2e_begin t_multihost
e2e_at_exit mh_cleanup

# The segment: a bridge in the router's namespace, one cable per host.
setup_segment() {
  local n ns
  ip netns add "$ROUTER_NS" || return 1
  ip -n "$ROUTER_NS" link add seg type bridge || return 1
  ip -n "$ROUTER_NS" addr add 198.51.100.254/24 dev seg || return 1
  ip -n "$ROUTER_NS" link set seg up && ip -n "$ROUTER_NS" link set lo up || return 1
  for n in "${HOSTS[@]}"; do
    ns=$(host_ns "$n")
    ip netns add "$ns" || return 1
    ip -n "$ns" link add uplink type veth peer name "h$n" netns "$ROUTER_NS" || return 1
    ip -n "$ROUTER_NS" link set "h$n" master seg up || return 1
    ip -n "$ns" addr add "198.51.100.1$n/24" dev uplink || return 1
    ip -n "$ns" link set uplink up && ip -n "$ns" link set lo up || return 1
  done
}
check "three hosts and a router on one segment (namespaces)" setup_segment || exit 1

mkdir -p "$MH_DIR/router"
{
  echo "frr defaults traditional"
  echo "router bgp 65000"
  echo " bgp router-id 198.51.100.254"
  echo " neighbor hosts peer-group"
  echo " neighbor hosts remote-as 65000"
  echo " neighbor hosts timers connect 1"
  for n in "${HOSTS[@]}"; do echo " neighbor 198.51.100.1$n peer-group hosts"; done
  echo " address-family ipv4 unicast"
  echo "  neighbor hosts route-reflector-client"
  echo " exit-address-family"
} >"$MH_DIR/router/bgpd.conf"
chown -R frr:frr "$MH_DIR/router"
check "FRR bgpd runs as the route reflector" ip netns exec "$ROUTER_NS" /usr/lib/frr/bgpd -Z -S -d \
  -f "$MH_DIR/router/bgpd.conf" -i "$MH_DIR/router/bgpd.pid" --vty_socket "$MH_DIR/router" || exit 1
rr() { ip netns exec "$ROUTER_NS" vtysh --vty_socket "$MH_DIR/router" -c "$1" 2>&1; }

"$DOCKER" save "$IMAGE" -o "$MH_DIR/image.tar" || { fail "docker save $IMAGE"; exit 1; }

# start_host N: its dockerd, the test image in it, its wharf (BGP to the reflector).
start_host() {
  local n=$1 ns d=$MH_DIR/h$1
  ns=$(host_ns "$n")
  mkdir -p "$d"
  # nsenter, not ip netns exec: dockerd needs the host's /sys (NOTES.md).
  setsid nsenter --net="/run/netns/$ns" dockerd --data-root "$d/data" --exec-root "$d/exec" \
    -H "unix://$d/docker.sock" --pidfile "$d/dockerd.pid" --bridge=none --iptables=false \
    >"$E2E_LOG_DIR/mh-dockerd-h$n.log" 2>&1 </dev/null &
  retry 60 dh "$n" info || { show "$(tail -n 20 "$E2E_LOG_DIR/mh-dockerd-h$n.log")"; return 1; }
  dh "$n" load -q -i "$MH_DIR/image.tar" >/dev/null || return 1
  start_wharf "$n"
}
start_wharf() {
  local n=$1 ns d=$MH_DIR/h$1
  ns=$(host_ns "$n")
  setsid nsenter --net="/run/netns/$ns" "$WHARF_BIN" serve --socket "$(plugin_sock "$n")" \
    --state-dir "$d/state" --docker-socket "$d/docker.sock" --debug \
    --host-block "10.90.$n.0/24" --bgp-asn 65000 --bgp-router-id "198.51.100.1$n" \
    --bgp-peer 198.51.100.254@65000 >>"$E2E_LOG_DIR/mh-wharf-h$n.log" 2>&1 </dev/null &
  echo $! >"$d/wharf.pid"
  retry 20 wharf_h "$n" bgp neighbors
}
for n in "${HOSTS[@]}"; do
  check "host $n: dockerd, the image and wharf (plugin $(plugin_name "$n")) start" start_host "$n" || exit 1
done
for n in "${HOSTS[@]}"; do
  if retry 30 bash -c "'$WHARF_BIN' bgp neighbors --socket '$(plugin_sock "$n")' | grep -q Established"; then
    pass "host $n's session with the reflector is Established"
  else
    fail "host $n has no session"
    show "$(rr 'show bgp summary')"
  fi
done

for n in "${HOSTS[@]}"; do
  check "host $n: network create mh 10.90.0.0/16 -d $(plugin_name "$n")" dh "$n" network create \
    -d "$(plugin_name "$n")" --ipam-driver "$(plugin_name "$n")" --subnet 10.90.0.0/16 \
    --gateway 10.90.0.1 mh || exit 1
  check "host $n: run c$n" dh "$n" run -d --name "mh-c$n" --net mh "$IMAGE" sleep 1d || exit 1
  check_out_match "host $n: c$n's address is the first of its block 10.90.$n.0/24" "^10\\.90\\.$n\\.1\$" \
    dh "$n" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "mh-c$n"
done

for n in "${HOSTS[@]}"; do
  for m in "${HOSTS[@]}"; do
    ((m == n)) && continue
    if retry 20 bash -c "ip -n $(host_ns "$n") route show proto 88 | grep -Eq '^10.90.$m.1 nhid [0-9]+ via 198.51.100.1$m '"; then
      pass "host $n learned c$m's 10.90.$m.1/32 via host $m (reflected)"
    else
      fail "host $n has no route to c$m"
      show "$(learned "$n")"
    fi
  done
  check_out_no_match "host $n installs no route for its own c$n" "^10\\.90\\.$n\\." learned "$n"
done
for n in "${HOSTS[@]}"; do
  for m in "${HOSTS[@]}"; do
    ((m == n)) && continue
    check "c$n on host $n pings c$m on host $m (10.90.$m.1)" \
      dh "$n" exec "mh-c$n" ping -c 2 -W 2 "10.90.$m.1"
  done
done
check_out_match "the reflector holds all three hosts' routes" '10\.90\.3\.1/32' rr 'show bgp ipv4 unicast'

# Propagation: from c4's Join on host 1 (wharf's log line) to its /32 in host 2's kernel,
# watched every few ms. Reported, not judged: nothing fails on a time.
watch_c4() {
  local end=$((SECONDS + 15))
  until ip -n "$(host_ns 2)" route show 10.90.1.2/32 proto 88 | grep -q .; do
    ((SECONDS < end)) || return 1
    sleep 0.002
  done
  date +%s.%N >"$MH_DIR/c4-seen"
}
watch_c4 &
watcher=$!
check "host 1: run c4" dh 1 run -d --name mh-c4 --net mh "$IMAGE" sleep 1d
if wait "$watcher"; then
  pass "host 2 learned c4's 10.90.1.2/32"
  joined=$(grep ' joined ' "$E2E_LOG_DIR/mh-wharf-h1.log" | tail -n 1 | cut -d' ' -f1)
  info "propagation from c4's Join on host 1 to its route in host 2's kernel: $(awk -v a="$(date -d "$joined" +%s.%N)" \
    -v b="$(<"$MH_DIR/c4-seen")" 'BEGIN { printf "%.0f ms", (b - a) * 1000 }')"
else
  fail "host 2 never learned c4's route"
fi

# check_withdrawn DESC HOST ADDRESS: HOST's kernel loses its learned route to ADDRESS.
check_withdrawn() {
  if retry 15 bash -c "! ip -n $(host_ns "$2") route show proto 88 | grep -q '^${3//./\\.} '"; then
    pass "$1"
  else
    fail "$1 (host $2 still routes to $3)"
  fi
}
check "host 2: docker rm c2" dh 2 rm -f mh-c2
for n in 1 3; do check_withdrawn "c2's route is withdrawn at host $n" "$n" 10.90.2.1; done
check "host 3: wharf stops (TERM)" kill "$(<"$MH_DIR/h3/wharf.pid")"
for n in 1 2; do
  check_withdrawn "host 3's routes are withdrawn at host $n once its wharf stops" "$n" 10.90.3.1
done
check_fails "c1 no longer reaches c3" "" dh 1 exec mh-c1 ping -c 1 -W 1 10.90.3.1
check "host 3: wharf starts again" start_wharf 3
if retry 20 bash -c "ip -n $(host_ns 1) route show proto 88 | grep -Eq '^10.90.3.1 nhid [0-9]+ via 198.51.100.13 '"; then
  pass "host 3's c3 is announced again after its wharf restarted"
else
  fail "host 1 did not learn c3 again"
fi
check "c1 reaches c3 again" dh 1 exec mh-c1 ping -c 2 -W 2 10.90.3.1
e2e_end
