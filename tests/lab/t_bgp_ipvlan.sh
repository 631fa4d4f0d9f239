#!/usr/bin/env bash
# Multi-host ipvlan L3 through BGP (the seed's story, on a kernel with ipvlan): three simulated
# hosts (tests/lab/lib/dockersim.sh), A, B and C, each with its own wharf speaking iBGP to a
# router namespace whose FRR bgpd reflects routes between them, all on one segment. One
# ipvlan L3 subnet spans the hosts, each giving out its own block (--host-block):
#   each host learns the others' container /32s from the reflector (proto 88, through a
#   nexthop object) and the containers reach each other through those routes alone;
#   removing a container withdraws its route on the other hosts;
#   an ipvlan L2 network on the same parent announces nothing.
# Run it inside the lab (as root): lab/run -- tests/lab/t_bgp_ipvlan.sh
set -uo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib/dockersim.sh"
lab_require

# Test-only addresses (RFC 2544 benchmarking range): the segment 198.18.0.0/24 (A .1, B .2,
# C .3, the router .254), the spanning subnet 198.19.20.0/24 (A's block .0/26, B's .64/26,
# C's .128/26).
WIRE_A=198.18.0.1 WIRE_B=198.18.0.2 WIRE_C=198.18.0.3 ROUTER=198.18.0.254
SUBNET=198.19.20.0/24
ROUTER_NS=$SIM_TAG-router FRR_DIR=$SIM_DIR/frr

router_cleanup() {
  [[ -s $FRR_DIR/bgpd.pid ]] && kill "$(<"$FRR_DIR/bgpd.pid")" 2>/dev/null
  [[ -e /run/netns/$ROUTER_NS ]] && ip netns del "$ROUTER_NS"
}
lab_at_exit router_cleanup

echo "kernel $(uname -r), wharf $WHARF_BIN"
bgp_args() { echo "--bgp-asn 65000 --bgp-router-id $1 --bgp-peer $ROUTER@65000 --host-block $2"; }
SIM_SERVE_ARGS=$(bgp_args "$WIRE_A" 198.19.20.0/26) check "host A up (wharf with BGP)" sim_host A || exit 1
SIM_SERVE_ARGS=$(bgp_args "$WIRE_B" 198.19.20.64/26) check "host B up (wharf with BGP)" sim_host B || exit 1
SIM_SERVE_ARGS=$(bgp_args "$WIRE_C" 198.19.20.128/26) check "host C up (wharf with BGP)" sim_host C || exit 1

segment() {
  ip netns add "$ROUTER_NS" &&
    ip -n "$ROUTER_NS" link set lo up &&
    ip -n "$ROUTER_NS" link add seg type bridge &&
    ip -n "$ROUTER_NS" addr add "$ROUTER/24" dev seg &&
    ip -n "$ROUTER_NS" link set seg up || return 1
  local host
  for host in A B C; do
    ip -n "$(sim_netns "$host")" link add eth1 type veth peer name "p$host" netns "$ROUTER_NS" &&
      ip -n "$ROUTER_NS" link set "p$host" master seg up &&
      ip -n "$(sim_netns "$host")" link set eth1 up || return 1
  done
  ip -n "$(sim_netns A)" addr add "$WIRE_A/24" dev eth1 &&
    ip -n "$(sim_netns B)" addr add "$WIRE_B/24" dev eth1 &&
    ip -n "$(sim_netns C)" addr add "$WIRE_C/24" dev eth1
}
check "A, B and C on one segment with a router" segment || exit 1

mkdir -p "$FRR_DIR"
cat >"$FRR_DIR/bgpd.conf" <<CONF
frr defaults traditional
router bgp 65000
 bgp router-id $ROUTER
 neighbor hosts peer-group
 neighbor hosts remote-as 65000
 neighbor hosts timers connect 1
 neighbor $WIRE_A peer-group hosts
 neighbor $WIRE_B peer-group hosts
 neighbor $WIRE_C peer-group hosts
 address-family ipv4 unicast
  neighbor hosts route-reflector-client
 exit-address-family
CONF
chown -R frr:frr "$FRR_DIR"
check "FRR bgpd reflects routes in the router's namespace" ip netns exec "$ROUTER_NS" \
  /usr/lib/frr/bgpd -Z -S -d -f "$FRR_DIR/bgpd.conf" -i "$FRR_DIR/bgpd.pid" --vty_socket "$FRR_DIR" || exit 1

# learned HOST ADDRESS: HOST's kernel has a learned route (proto 88) to ADDRESS through a
# nexthop object, via the other host's wire address; waits up to 30 s (the lab is slow).
learned() {
  local ns deadline=$((SECONDS + 30))
  ns=$(sim_netns "$1") || return 1
  until ip -n "$ns" route show proto 88 | grep -Eq "^${2//./\\.} nhid [0-9]+ via $3 dev eth1"; do
    ((SECONDS < deadline)) || { ip -n "$ns" route show proto 88; return 1; }
    sleep 0.5
  done
}

# not_learned HOST ADDRESS: HOST's kernel loses (or never has) a learned route to ADDRESS.
not_learned() {
  local ns deadline=$((SECONDS + 30))
  ns=$(sim_netns "$1") || return 1
  while ip -n "$ns" route show proto 88 | grep -q "^${2//./\\.} "; do
    ((SECONDS < deadline)) || { ip -n "$ns" route show proto 88; return 1; }
    sleep 0.5
  done
}

l3=(--subnet "$SUBNET" -o mode=ipvlan -o parent=eth1 -o ipvlan_mode=l3)
declare -A wire=([A]=$WIRE_A [B]=$WIRE_B [C]=$WIRE_C) block=([A]=0 [B]=64 [C]=128) addr=()
ok=1
for host in A B C; do
  check "ipvlan L3 network on $host" sim_network_create "$host" l3 "${l3[@]}" || ok=0
done
if ((ok)); then
  for host in A B C; do
    c=${host,,}1
    check "$c runs on $host" sim_run "$host" "$c" l3
    addr[$host]=$(sim_ip "$c")
    last=${addr[$host]##*.}
    check "$c's address ${addr[$host]} is from $host's block" \
      test "$last" -ge "${block[$host]}" -a "$last" -lt $((block[$host] + 64))
  done
  for host in A B C; do
    for other in A B C; do
      [[ $host == "$other" ]] && continue
      check "$host learned ${other,,}1's /32 via $other, through a nexthop object" \
        learned "$host" "${addr[$other]}" "${wire[$other]}"
      check "${host,,}1 -> ${other,,}1 across the hosts, by BGP-learned routes only" \
        sim_ping "${host,,}1" "${addr[$other]}"
    done
  done
  check "b1 removed" sim_rm B b1
  check "A's route to b1 is withdrawn" not_learned A "${addr[B]}"
  check "C's route to b1 is withdrawn" not_learned C "${addr[B]}"
  check "a1 -> c1 still" sim_ping a1 "${addr[C]}"
  check "a1 removed" sim_rm A a1
  check "c1 removed" sim_rm C c1
  check "C's route to a1 is withdrawn" not_learned C "${addr[A]}"
fi
for host in A B C; do
  check "the L3 network on $host removed" sim_network_rm "$host" l3
done

# An L2 network's containers are on the segment: nothing of them is announced.
if check "ipvlan L2 network on A" sim_network_create A l2 --subnet 198.19.21.0/24 \
  -o mode=ipvlan -o parent=eth1; then
  check "a2 runs on A (L2)" sim_run A a2 l2 --ip 198.19.21.10
  sleep 2
  check "B learned nothing of it" not_learned B 198.19.21.10
  check "a2 removed" sim_rm A a2
  check "the L2 network removed" sim_network_rm A l2
fi
for host in A B C; do
  check "nothing left on $host" sim_no_leftovers "$host"
done

lab_summary
