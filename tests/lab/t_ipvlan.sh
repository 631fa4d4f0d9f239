#!/usr/bin/env bash
# ipvlan networks and 802.1Q parents on two simulated hosts (tests/lab/lib/dockersim.sh), A
# and B, joined by a cable (A:eth1 -- B:eth1), each with its own wharf, in the lab's kernel
# (this machine's has no ipvlan and no 8021q):
#   L2:  containers on A and on B share the cable's segment and reach each other; A reaches
#        its own through a host shim; a second ipvlan (or a macvlan) network on the parent is
#        refused;
#   L3, L3S: B reaches A's containers once it routes their subnet via A's wire address (and
#        not before), they reach B back, L3 containers on A and on B reach each other; wharf
#        needs no host route for that, yet exports one on the parent for a routing daemon
#        (--routing external); A reaches its L3S container through a shim;
#   802.1Q: a missing parent eth1.30 is made (on A and on B), traffic crosses the cable tagged
#        VLAN 30 (tcpdump), and it goes with the network; a VLAN wharf did not make stays;
#   no parent: an internal network on a dummy wharf makes and deletes;
#   the old ipvlan plugin's flags (--host-interface, --mode l3, --ipvlan-subnet, --gateway)
#        as defaults for a network created with no option;
#   restarts: kill -9 loses nothing; a VLAN parent and shim deleted behind wharf's back (as by
#        a reboot) are made again when it starts;
#   bad input: each refused with a clear message, nothing made, no pool kept.
# Run it inside the lab (as root): lab/run -- tests/lab/t_ipvlan.sh
set -uo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib/dockersim.sh"
lab_require

# Test-only addresses (RFC 2544 benchmarking range): the cable 198.18.0.0/24, container
# subnets 198.19.N.0/24.
WIRE_A=198.18.0.1 WIRE_B=198.18.0.2

# link_shows HOST|CONTAINER LINK REGEX: `ip -d link show LINK` there matches REGEX.
link_shows() {
  local out
  out=$(ip -n "$(sim_netns "$1")" -d link show "$2" 2>&1)
  grep -Eq "$3" <<<"$out" || { echo "$out"; return 1; }
}

# unreachable FROM ADDRESS: FROM has a route to ADDRESS (checked), and a ping fails.
unreachable() {
  local ns
  ns=$(sim_netns "$1") || return 1
  ip -n "$ns" route get "$2" || return 1
  ! ip netns exec "$ns" ping -c1 -W2 "$2"
}

# no_link HOST LINK: HOST's links can be listed, and none has that name.
no_link() {
  local links
  links=$(ip -n "$(sim_netns "$1")" -o link show) || return 1
  ! awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' <<<"$links" | grep -qxF -- "$2"
}

# no_default_route CONTAINER: its routes can be listed, and there is no default one.
no_default_route() {
  local routes
  routes=$(ip -n "$(sim_netns "$1")" route show default) || return 1
  [[ -z $routes ]] || { echo "$routes"; return 1; }
}

# wait_for_line SECONDS REGEX FILE: FILE gets a line matching REGEX within SECONDS.
wait_for_line() {
  local deadline=$((SECONDS + $1))
  until grep -Eq -- "$2" "$3"; do
    ((SECONDS < deadline)) || { cat "$3"; return 1; }
    sleep 0.2
  done
}

echo "kernel $(uname -r), wharf $WHARF_BIN"
sim_two_hosts || exit 1
ipvlan=(-o mode=ipvlan -o parent=eth1)

# ---- L2 (the default ipvlan mode): one segment across both hosts
if check "L2 network on A, with a host shim" sim_network_create A l2 --subnet 198.19.2.0/24 \
  --gateway 198.19.2.1 "${ipvlan[@]}" -o host_shim=true &&
  check "L2 network on B" sim_network_create B l2 --subnet 198.19.2.0/24 "${ipvlan[@]}"; then
  check "a1 runs on A" sim_run A a1 l2 --ip 198.19.2.10
  check "a2 runs on A" sim_run A a2 l2 --ip 198.19.2.11
  check "b1 runs on B" sim_run B b1 l2 --ip 198.19.2.20
  check "a1's eth0 is ipvlan l2 bridge" link_shows a1 eth0 'ipvlan +mode l2 bridge'
  a_mac=$(ip netns exec "$(sim_netns A)" cat /sys/class/net/eth1/address)
  check "a1's eth0 carries A's eth1 MAC" link_shows a1 eth0 "link/ether $a_mac "
  check "a1's default route is the IPAM gateway" sh -c \
    "ip -n $(sim_netns a1) route show default | grep -q 'via 198.19.2.1 dev eth0'"
  check "a1 -> a2" sim_ping a1 198.19.2.11
  check "a1 -> b1 (across the cable)" sim_ping a1 198.19.2.20
  check "b1 -> a1" sim_ping b1 198.19.2.10
  check "A -> a1 through the shim" sim_ping A 198.19.2.10
  check "A routes a1 through the shim, from the shim's address" sh -c \
    "ip -n $(sim_netns A) route show proto 87 | grep -Eq '^198\.19\.2\.10 dev ws[0-9a-f]+ .*src 198\.19\.2\.2'"
  check_fails "a second ipvlan network on eth1 is refused, naming the first" \
    'parent eth1 is used by ipvlan l2 bridge network' \
    sim_network_create A l3x --subnet 198.19.9.0/24 "${ipvlan[@]}" -o ipvlan_mode=l3
  check_fails "so is a macvlan network on eth1" 'not both' \
    sim_network_create A mx --subnet 198.19.9.0/24 -o mode=macvlan -o parent=eth1
  for c in a1 a2; do check "$c removed" sim_rm A "$c"; done
  check "b1 removed" sim_rm B b1
  check "L2 network on A removed" sim_network_rm A l2
  check "L2 network on B removed" sim_network_rm B l2
fi
check "L2: nothing left on A (shim included)" sim_no_leftovers A
check "L2: wharf on A holds nothing" sim_wharf_empty A

# ---- L3 and L3S: routed by each host, reached from the other through a route via its address
for mode in l3 l3s; do
  n=$([[ $mode == l3 ]] && echo 3 || echo 5)
  net=198.19.$n.0/24 c=198.19.$n.10
  shim=()
  [[ $mode == l3s ]] && shim=(-o host_shim=true)
  if check "$mode network on A" sim_network_create A "$mode" --subnet "$net" "${ipvlan[@]}" \
    -o "ipvlan_mode=$mode" "${shim[@]}"; then
    check "c$mode runs on A" sim_run A "c$mode" "$mode" --ip "$c"
    check "its eth0 is ipvlan $mode" link_shows "c$mode" eth0 "ipvlan +mode $mode bridge"
    check "its default route is bound to eth0, no gateway" sh -c \
      "ip -n $(sim_netns "c$mode") route show default | grep -q '^default dev eth0'"
    # On the segment, without A as next hop: B asks for the address by ARP, which an L3/L3S
    # link does not answer (IFF_NOARP; an L2 one would).
    check "B puts $net on its wire (on-link)" ip -n "$(sim_netns B)" route add "$net" dev eth1
    check "B cannot reach c$mode by ARP on the segment" unreachable B "$c"
    check "B routes $net via A instead" ip -n "$(sim_netns B)" route replace "$net" via "$WIRE_A"
    check "B -> c$mode" sim_ping B "$c"
    check "c$mode -> B" sim_ping "c$mode" "$WIRE_B"
    if [[ $mode == l3 ]]; then
      # The ipvlan driver needs no host route; a routing daemon beside wharf (the default,
      # --routing external) needs one to find and export: wharf puts it on the parent.
      check "wharf exports cl3's address as a host route on the parent" sh -c \
        "ip -n $(sim_netns A) route show proto 87 | grep -q '^$c dev eth1 scope link'"
      # The same on B, and the two hosts' containers reach each other across the cable.
      if check "l3 network on B" sim_network_create B l3 --subnet 198.19.4.0/24 "${ipvlan[@]}" -o ipvlan_mode=l3; then
        check "b3 runs on B" sim_run B b3 l3 --ip 198.19.4.10
        check "A routes 198.19.4.0/24 via B" ip -n "$(sim_netns A)" route add 198.19.4.0/24 via "$WIRE_B"
        check "cl3 (on A) -> b3 (on B)" sim_ping cl3 198.19.4.10
        check "b3 -> cl3" sim_ping b3 "$c"
        check "b3 removed" sim_rm B b3
        check "l3 network on B removed" sim_network_rm B l3
      fi
    else
      check "A -> cl3s through the shim" sim_ping A "$c"
    fi
    check "c$mode removed" sim_rm A "c$mode"
    check "$mode network on A removed" sim_network_rm A "$mode"
  fi
  check "$mode: nothing left on A" sim_no_leftovers A
done

# ---- 802.1Q: eth1.30 made on both hosts, tagged on the cable, gone with the networks
vlan=(-o mode=ipvlan -o parent=eth1.30)
if check "ipvlan network on A with parent eth1.30 (missing)" sim_network_create A v30 \
  --subnet 198.19.6.0/24 "${vlan[@]}" &&
  check "the same on B" sim_network_create B v30 --subnet 198.19.6.0/24 "${vlan[@]}"; then
  check "A's eth1.30 is 802.1Q VLAN 30" link_shows A eth1.30 'vlan protocol 802\.1Q id 30 '
  check "A's eth1.30 is up" link_shows A eth1.30 '<[^>]*,UP[,>]'
  check "A's eth1.30 is marked wharf:parent" link_shows A eth1.30 'alias wharf:parent'
  check "v1 runs on A" sim_run A v1 v30 --ip 198.19.6.10
  check "v2 runs on B" sim_run B v2 v30 --ip 198.19.6.20
  capture=$(mktemp)
  ip netns exec "$(sim_netns B)" timeout 60 tcpdump -l -c1 -nn -e -i eth1 'vlan 30 and icmp' >"$capture" 2>&1 &
  tcpdump_pid=$!
  # tcpdump starts slowly under emulation: wait until it says it listens (60 s at most).
  check "tcpdump listens on B's eth1" wait_for_line 60 'listening on eth1' "$capture"
  check "v1 -> v2 (across the cable, in VLAN 30)" sim_ping v1 198.19.6.20
  wait "$tcpdump_pid"
  check "B saw the ICMP on its eth1 tagged VLAN 30" grep -Eq 'vlan 30,.*ICMP' "$capture"
  rm -f "$capture"
  check "v1 removed" sim_rm A v1
  check "v2 removed" sim_rm B v2
  check "network on A removed" sim_network_rm A v30
  check "network on B removed" sim_network_rm B v30
  check "A's eth1.30 went with it" no_link A eth1.30
  check "B's eth1.30 went with it" no_link B eth1.30
fi
# A VLAN sub-interface that was there before is used and kept.
check "A gets its own eth1.40" ip -n "$(sim_netns A)" link add link eth1 name eth1.40 type vlan id 40
if check "ipvlan network on the existing eth1.40" sim_network_create A v40 --subnet 198.19.7.0/24 \
  -o mode=ipvlan -o parent=eth1.40; then
  check "v4 runs on A" sim_run A v4 v40
  check "v4 removed" sim_rm A v4
  check "network removed" sim_network_rm A v40
  check "eth1.40, not wharf's, is still there" link_shows A eth1.40 'vlan protocol 802\.1Q id 40'
fi
ip -n "$(sim_netns A)" link del eth1.40 2>/dev/null

# ---- no parent: an internal network on a dummy wharf makes
if check "ipvlan network without a parent" sim_network_create A inner --subnet 198.19.8.0/24 -o mode=ipvlan; then
  check "A has a wharf dummy for it" sh -c \
    "ip -n $(sim_netns A) -d link show | grep -B2 'alias wharf:parent' | grep -q dummy"
  check "i1 runs on it" sim_run A i1 inner
  check "i2 runs on it" sim_run A i2 inner --ip 198.19.8.20
  check "i1 -> i2" sim_ping i1 198.19.8.20
  check "i1 has no default route (internal)" no_default_route i1
  check "i1 removed" sim_rm A i1
  check "i2 removed" sim_rm A i2
  check "network removed" sim_network_rm A inner
fi
check "no parent: the dummy went with the network" sim_no_leftovers A

# ---- restarts: a crash loses nothing; after a "reboot" (the kernel's objects gone) wharf
# makes the VLAN parent and the shim again
shim_link() { ip -n "$(sim_netns A)" -o link show | awk -F': ' '/alias wharf:shim:/ { sub(/@.*/, "", $2); print $2 }'; }
if check "network on A with parent eth1.31 (missing) and a shim" sim_network_create A r31 \
  --subnet 198.19.10.0/24 -o mode=ipvlan -o parent=eth1.31 -o host_shim=true; then
  check "r1 runs" sim_run A r1 r31 --ip 198.19.10.10
  check "wharf on A killed -9 and started again" sim_restart A
  check "A -> r1 through the shim after the restart" sim_ping A 198.19.10.10
  check "r1 removed" sim_rm A r1
  shim_name=$(shim_link)
  check "the shim and eth1.31 deleted behind wharf's back (a reboot)" sh -c \
    "ip -n $(sim_netns A) link del $shim_name && ip -n $(sim_netns A) link del eth1.31"
  check "they are gone" no_link A eth1.31
  check "wharf on A started again" sim_restart A
  check "eth1.31 is back, VLAN 31" link_shows A eth1.31 'vlan protocol 802\.1Q id 31 '
  check "and wharf's" link_shows A eth1.31 'alias wharf:parent'
  check "the shim is back" link_shows A "$shim_name" 'ipvlan +mode l2 bridge'
  check "with its address" sh -c "ip -n $(sim_netns A) addr show dev $shim_name | grep -q 198.19.10.2/32"
  check "r2 runs" sim_run A r2 r31 --ip 198.19.10.11
  check "A -> r2 through the shim made again" sim_ping A 198.19.10.11
  check "r2 removed" sim_rm A r2
  check "network removed" sim_network_rm A r31
  check "eth1.31 went with it" no_link A eth1.31
fi
check "restarts: nothing left on A" sim_no_leftovers A

# ---- the old ipvlan plugin's daemon flags as defaults: a network created with no option and
# no --subnet is ipvlan L3 on --host-interface in --ipvlan-subnet, with --gateway
SIM_SERVE_ARGS="--host-interface eth1 --mode l3 --ipvlan-subnet 198.19.11.0/24 --gateway 198.19.11.254" \
  check "host C up, with the ipvlan plugin's flags" sim_host C
check "C has an eth1" sh -c "ip -n $(sim_netns C) link add eth1 type dummy && ip -n $(sim_netns C) link set eth1 up"
if check "a network on C with no option and no --subnet" sim_network_create C seed; then
  check "wharf status on C shows 198.19.11.0/24 gateway 198.19.11.254" sh -c \
    "'$WHARF_BIN' status --socket '$SIM_DIR/C.sock' | grep -q '198.19.11.0/24 gateway 198.19.11.254'"
  check "s1 runs on it" sim_run C s1 seed
  check "s1's eth0 is ipvlan l3 on C's eth1" link_shows s1 eth0 'ipvlan +mode l3 bridge'
  check "s1 got an address in 198.19.11.0/24" sh -c "ip -n $(sim_netns s1) -4 addr show dev eth0 | grep -q 'inet 198\.19\.11\.'"
  check "s1 removed" sim_rm C s1
  check "network removed" sim_network_rm C seed
fi

# ---- bad input: a clear message each, nothing made, no pool kept
bad() { # bad WHAT REGEX OPTION...
  local what=$1 re=$2
  shift 2
  check_fails "$what: refused" "$re" sim_network_create A bad --subnet 198.19.9.0/24 "$@"
}
bad "VLAN id 0" 'VLAN id 0 is outside 1-4094' -o mode=ipvlan -o parent=eth1.0
bad "VLAN id 5000" 'VLAN id 5000 is outside 1-4094' -o mode=ipvlan -o parent=eth1.5000
bad "a missing parent" 'parent nope0 does not exist' -o mode=ipvlan -o parent=nope0
bad "a VLAN on a missing interface" 'neither does nope0' -o mode=ipvlan -o parent=nope0.30
bad "an MTU above the parent's" '9000 is larger than the MTU of parent eth1 \(1500\)' \
  "${ipvlan[@]}" -o mtu=9000
bad "an unknown ipvlan_mode" 'option ipvlan_mode: "l4"' "${ipvlan[@]}" -o ipvlan_mode=l4
bad "an unknown ipvlan_flag" 'option ipvlan_flag' "${ipvlan[@]}" -o ipvlan_flag=nope
bad "a shim on private links" 'host_shim: not possible' "${ipvlan[@]}" -o ipvlan_flag=private -o host_shim=true
check "no eth1.0 was made" no_link A eth1.0
check "no eth1.5000 was made" no_link A eth1.5000
check "wharf on A holds no network or pool" sim_wharf_empty A
check "nothing left on A" sim_no_leftovers A
check "nothing left on B" sim_no_leftovers B

lab_summary
