#!/usr/bin/env bash
# Two simulated hosts (tests/lab/lib/dockersim.sh), A and B, joined by a cable, each with its
# own wharf; dockerd's calls played on A's socket. Proves the harness on the modes wharf has:
#   routed:  containers on A reach each other (IPv4 and IPv6) and are reached from A, and
#            from B through a static route to A's container subnet via A's wire address;
#   macvlan: containers on A's wire segment (parent = A's end of the cable) reach B and each
#            other, and B reaches them;
#   teardown through the socket leaves no wh*/wc* link and no proto 87 route on A, and wharf
#   holds no network or pool afterwards;
#   a bad option is refused naming it, and leaves no pool behind.
# Run it inside the lab (as root): lab/run -- tests/lab/t_two_hosts.sh
set -uo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib/dockersim.sh"
lab_require

# Test-only addresses (RFC 2544 benchmarking range, a ULA of our own): the cable
# 198.18.0.0/24, the routed containers 198.19.1.0/24 and fd71:ab5e:1::/64.
WIRE_A=198.18.0.1 WIRE_B=198.18.0.2
ROUTED4=198.19.1.0/24 ROUTED6=fd71:ab5e:1::/64

echo "kernel $(uname -r), wharf $WHARF_BIN"
sim_two_hosts || exit 1

# ---- routed (the default mode)
if check "routed network on A" sim_network_create A rnet --subnet "$ROUTED4" --ipv6 --subnet "$ROUTED6"; then
  check "c1 runs on A" sim_run A c1 rnet
  check "c2 runs on A" sim_run A c2 rnet --ip 198.19.1.20
  check "A routes c1's address with proto 87" sh -c "ip -n $(sim_netns A) route show proto 87 | grep -q '^$(sim_ip c1) dev wh'"
  check "c1 -> c2 (IPv4)" sim_ping c1 198.19.1.20
  check "c1 -> c2 (IPv6)" sim_ping c1 "$(sim_ip c2 6)"
  check "A -> c1" sim_ping A "$(sim_ip c1)"
  check "B routes $ROUTED4 via A" ip -n "$(sim_netns B)" route add "$ROUTED4" via "$WIRE_A"
  check "B -> c1 (through A)" sim_ping B "$(sim_ip c1)"
  check "c1 -> B's wire address" sim_ping c1 "$WIRE_B"
  check "c1 removed" sim_rm A c1
  check "c2 removed" sim_rm A c2
  check "routed network removed" sim_network_rm A rnet
fi
check "routed: nothing left on A" sim_no_leftovers A

# ---- macvlan on the cable's segment (B's wire address as the gateway)
if check "macvlan network on A (parent eth1)" sim_network_create A mnet --subnet 198.18.0.0/24 \
  --gateway "$WIRE_B" -o mode=macvlan -o parent=eth1; then
  check "m1 runs on A" sim_run A m1 mnet --ip 198.18.0.10
  check "m2 runs on A" sim_run A m2 mnet --ip 198.18.0.11
  check "m1 -> B" sim_ping m1 "$WIRE_B"
  check "B -> m1" sim_ping B 198.18.0.10
  check "m1 -> m2" sim_ping m1 198.18.0.11
  check "m1 removed" sim_rm A m1
  check "m2 removed" sim_rm A m2
  check "macvlan network removed (IPAM released first, as newer dockerds do)" \
    sim_network_rm A mnet --release-first
fi
check "macvlan: nothing left on A" sim_no_leftovers A

# ---- bad input: refused naming the option, nothing kept
check_fails "-o mode=nope refused naming the option" 'option mode' \
  sim_network_create A bad --subnet 198.19.9.0/24 -o mode=nope
check "the refused network's pool was released" sim_wharf_empty A
check "the same subnet can be created again" sim_network_create A again --subnet 198.19.9.0/24
check "and removed" sim_network_rm A again
check "wharf on A holds no network or pool" sim_wharf_empty A
check "nothing left on A" sim_no_leftovers A

lab_summary
