#!/usr/bin/env bash
# Multi-host routing with the embedded BGP speaker against FRR's bgpd (Debian's frr) in a
# namespace standing for a router: wharf peers with it (eBGP), announces each container's
# address as a /32 while the container runs, and installs the router's routes in the host
# (`proto 88`), through which a container reaches an address behind the router. A wharf
# shutdown tells the router (Cease).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

PEER_NS=e2e-bgp-peer-$$ WIRE=e2ebgp0 FRR_DIR=$(mktemp -d /tmp/wharf-e2e-frr.XXXXXX)
bgp_cleanup() {
  [[ -s $FRR_DIR/bgpd.pid ]] && kill "$(<"$FRR_DIR/bgpd.pid")" 2>/dev/null
  ip netns del "$PEER_NS" 2>/dev/null
  ip link del "$WIRE" 2>/dev/null
  # Learned routes stay through a wharf restart by design; the case takes its own away.
  # They go through nexthop objects, which `ip route flush` cannot delete (iproute2 sends
  # the object's id with its expanded next hop); deleting the objects takes their routes.
  ip nexthop flush protocol 88 >/dev/null 2>&1
  ip route flush proto 88 2>/dev/null
  rm -rf "$FRR_DIR"
}
e2e_begin t_bgp
e2e_at_exit bgp_cleanup
vtysh_peer() { ip netns exec "$PEER_NS" vtysh --vty_socket "$FRR_DIR" -c "$1" 2>&1; }

if ! { ip netns add "$PEER_NS" && ip link add "$WIRE" type veth peer name bgp1 netns "$PEER_NS" &&
  ip addr add 198.51.100.1/24 dev "$WIRE" && ip link set "$WIRE" up &&
  ip -n "$PEER_NS" addr add 198.51.100.254/24 dev bgp1 && ip -n "$PEER_NS" link set bgp1 up &&
  ip -n "$PEER_NS" link set lo up && ip -n "$PEER_NS" addr add 10.62.0.1/32 dev lo &&
  ip -n "$PEER_NS" route add 10.60.0.0/24 via 198.51.100.1; }; then
  fail "cannot make the router's namespace"
  exit 1
fi
cat >"$FRR_DIR/bgpd.conf" <<CONF
frr defaults traditional
hostname router
router bgp 65000
 bgp router-id 198.51.100.254
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 198.51.100.1 remote-as 65001
 neighbor 198.51.100.1 timers connect 1
 address-family ipv4 unicast
  network 10.62.0.0/24
  network 10.65.0.2/32
 exit-address-family
CONF
chown -R frr:frr "$FRR_DIR"
check "FRR bgpd starts in the router's namespace" ip netns exec "$PEER_NS" /usr/lib/frr/bgpd -Z -S -d \
  -f "$FRR_DIR/bgpd.conf" -i "$FRR_DIR/bgpd.pid" --vty_socket "$FRR_DIR" || exit 1

wharf_kill TERM
wharf_start --bgp-asn 65001 --bgp-router-id 198.51.100.1 --bgp-peer 198.51.100.254@65000 \
  --host-block 10.61.0.128/25 || exit 1
if retry 30 bash -c "ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp neighbors 198.51.100.1' | grep -q 'BGP state = Established'"; then
  pass "the session with FRR is Established"
else
  fail "no session with FRR"
  show "$(vtysh_peer 'show bgp summary')"
  exit 1
fi
if retry 15 bash -c "ip route show proto 88 | grep -Eq '^10.62.0.0/24 nhid [0-9]+ via 198.51.100.254 '"; then
  pass "FRR's 10.62.0.0/24 is in the host's kernel (proto 88, via the router, through a nexthop object)"
else
  fail "FRR's route is not in the kernel"
  show "$(ip route show proto 88)"
fi

check "network create routed 10.60.0.0/24" dk_net_create e2e-bgpnet -d wharf --ipam-driver wharf --subnet 10.60.0.0/24 || exit 1
check "run c1 at 10.60.0.7" dk_run e2e-c1 --net e2e-bgpnet --ip 10.60.0.7 "$IMAGE" sleep 1d
if retry 15 bash -c "ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp ipv4 unicast 10.60.0.7/32' | grep -q '198.51.100.1 from 198.51.100.1'"; then
  pass "FRR learned c1's 10.60.0.7/32 from wharf, next hop this host"
else
  fail "FRR has no route for c1"
  show "$(vtysh_peer 'show bgp ipv4 unicast')"
fi
check_out_match "FRR's path shows wharf's AS" '^  65001$' vtysh_peer 'show bgp ipv4 unicast 10.60.0.7/32'
check_ping "c1 reaches 10.62.0.1 behind the router, through the learned route" e2e-c1 10.62.0.1
# Accepted: 10.62.0.0/24 and 10.65.0.2/32 (FRR's copy of c1's route is refused); advertised: c1's.
check_out_match "wharf bgp neighbors: the router, Established, 2 accepted, 1 advertised" \
  '^198\.51\.100\.254 +65000 Established +[0-9:]+ +[0-9]+ +2 +1 ' "$WHARF_BIN" bgp neighbors
check_out_match "wharf bgp routes: 10.62.0.0/24 installed via the router" \
  '^  \* via 198\.51\.100\.254 from 198\.51\.100\.254$' "$WHARF_BIN" bgp routes
check_out_match "wharf bgp neighbors --json" '"state":"Established"' "$WHARF_BIN" bgp neighbors --json
check_out_no_match "FRR's copy of c1's route, sent back, is not installed" '10\.60\.0\.7' ip route show proto 88

# advertise=subnet: the subnet (this host's --host-block of it), once; advertise=none: nothing.
check "network create 10.61.0.0/24 -o advertise=subnet" dk_net_create e2e-bgpsub -d wharf \
  --ipam-driver wharf --subnet 10.61.0.0/24 -o advertise=subnet
check "run s1 on it" dk_run e2e-s1 --net e2e-bgpsub "$IMAGE" sleep 1d
check_out_match "s1's address comes from this host's block 10.61.0.128/25" '^10\.61\.0\.129$' \
  "$DOCKER" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' e2e-s1
check "network create 10.65.0.0/24 -o advertise=none" dk_net_create e2e-bgpnone -d wharf \
  --ipam-driver wharf --subnet 10.65.0.0/24 -o advertise=none
check "run n1 on it" dk_run e2e-n1 --net e2e-bgpnone "$IMAGE" sleep 1d
check_out_match "n1 got 10.65.0.3: the router routes 10.65.0.2 to another host" '^10\.65\.0\.3$' \
  "$DOCKER" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' e2e-n1
check_fails "run n2 --ip 10.65.0.2 is refused: another host uses it" 'used on another host' \
  "$DOCKER" run -d --name e2e-n2 --net e2e-bgpnone --ip 10.65.0.2 "$IMAGE" sleep 1d
"$DOCKER" rm -f e2e-n2 >/dev/null 2>&1
# The router now announces n1's own address: a conflict, reported, and n1 keeps its route.
ip netns exec "$PEER_NS" vtysh --vty_socket "$FRR_DIR" -c 'configure terminal' -c 'router bgp 65000' \
  -c 'address-family ipv4 unicast' -c 'network 10.65.0.3/32' >/dev/null 2>&1
if retry 15 bash -c "'$WHARF_BIN' status | grep -q 'CONFLICT 10.65.0.3'"; then
  pass "wharf status reports n1's 10.65.0.3 as announced by a peer too"
else
  fail "wharf status shows no conflict"
  show "$("$WHARF_BIN" status)"
fi
check_out_match "wharf bgp routes marks 10.65.0.3/32 as a conflict" '^10\.65\.0\.3/32  CONFLICT' \
  "$WHARF_BIN" bgp routes
check_out_match "n1's own host route holds (proto 87), not the router's" '^10\.65\.0\.3 dev wh[0-9a-f]+ proto 87' \
  ip route show 10.65.0.3/32
check_out_no_match "the router's 10.65.0.3/32 is not installed while n1 uses it" '10\.65\.0\.3' \
  ip route show proto 88
if retry 15 bash -c "ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp ipv4 unicast' | grep -q '10.61.0.128/25'"; then
  pass "FRR learned the advertise=subnet network's block 10.61.0.128/25"
else
  fail "FRR has no 10.61.0.128/25"
fi
# What FRR received from wharf (its own 10.65.0.x/32 are in its table, not in this list).
from_wharf=$(vtysh_peer 'show bgp ipv4 unicast neighbors 198.51.100.1 routes')
check_has "FRR's list of wharf's routes has the block" 10.61.0.128/25 "$from_wharf"
check_no_match "FRR has not the whole subnet" '10\.61\.0\.0/24' "$from_wharf"
check_no_match "FRR has no /32 of the advertise=subnet network" '10\.61\.0\.[0-9]+/32' "$from_wharf"
check_no_match "FRR has nothing of the advertise=none network" '10\.65\.' "$from_wharf"
check_fails "advertise=bogus is refused" 'option advertise: "bogus" is not host, subnet or none' \
  "$DOCKER" network create -d wharf --subnet 10.66.0.0/24 -o advertise=bogus e2e-bgpbad
check "docker rm s1, n1" "$DOCKER" rm -f e2e-s1 e2e-n1
check "network rm the advertise=subnet network" "$DOCKER" network rm e2e-bgpsub
if retry 15 bash -c "! ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp ipv4 unicast' | grep -q '10.61.0.128/25'"; then
  pass "10.61.0.128/25 is withdrawn with its network"
else
  fail "FRR still has 10.61.0.128/25"
fi

# wharf dies (SIGKILL) and comes back: the kernel forwards to the router's prefix the whole
# time; FRR, a graceful-restart helper, keeps c1's route meanwhile; the new wharf takes the
# route and its nexthop object over and tells FRR it kept its forwarding state.
object_of() { ip route show 10.62.0.0/24 proto 88 | grep -Eo 'nhid [0-9]+'; }
object_before=$(object_of)
wharf_kill KILL
check_out_match "the router's prefix stays in the kernel while wharf is down" \
  '^10\.62\.0\.0/24 nhid [0-9]+ via 198\.51\.100\.254 ' ip route show proto 88
if retry 10 bash -c "ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp ipv4 unicast 10.60.0.7/32' | grep -qi stale"; then
  pass "FRR keeps c1's route, stale, while wharf is down"
else
  fail "FRR did not keep c1's route through wharf's restart"
  show "$(vtysh_peer 'show bgp ipv4 unicast 10.60.0.7/32')"
fi
wharf_start --bgp-asn 65001 --bgp-router-id 198.51.100.1 --bgp-peer 198.51.100.254@65000 \
  --host-block 10.61.0.128/25 || exit 1
if retry 20 bash -c "ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp neighbors 198.51.100.1 json' | grep -q '\"rBit\":true'"; then
  pass "the restarted wharf's OPEN says it restarted (Restart State bit)"
else
  fail "no Restart State bit in the restarted wharf's OPEN"
fi
check_out_match "... and that it kept its forwarding state (Forwarding State bit)" '"fBit":true' \
  ip netns exec "$PEER_NS" vtysh --vty_socket "$FRR_DIR" -c 'show bgp neighbors 198.51.100.1 json'
if retry 15 bash -c "ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp ipv4 unicast 10.60.0.7/32' | grep -q best && ! ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp ipv4 unicast 10.60.0.7/32' | grep -qi stale"; then
  pass "c1's route at FRR is fresh again"
else
  fail "c1's route at FRR is not fresh after the restart"
  show "$(vtysh_peer 'show bgp ipv4 unicast 10.60.0.7/32')"
fi
check_eq "the router's prefix keeps its nexthop object through the restart" "${object_before:-none}" "$(object_of)"
check_ping "c1 still reaches the router's 10.62.0.1" e2e-c1 10.62.0.1

check "docker rm c1" "$DOCKER" rm -f e2e-c1
if retry 15 bash -c "! ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp ipv4 unicast' | grep -q '10.60.0.7/32'"; then
  pass "c1's route is withdrawn at FRR once c1 is gone"
else
  fail "FRR still has c1's route"
fi
wharf_kill TERM
if retry 10 bash -c "ip netns exec $PEER_NS vtysh --vty_socket $FRR_DIR -c 'show bgp neighbors 198.51.100.1' | grep -qi 'Administrative Shutdown'"; then
  pass "a wharf shutdown sends FRR a Cease"
else
  fail "FRR did not hear a Cease"
  show "$(vtysh_peer 'show bgp neighbors 198.51.100.1' | grep -i -A2 'notification\|last reset')"
fi
wharf_start || exit 1
check_fails "wharf bgp without a speaker says how to start one" 'start wharf serve with --bgp-asn' \
  "$WHARF_BIN" bgp neighbors
e2e_end
