#!/usr/bin/env bash
# Isolation between wharf's routed networks, as Docker users expect of networks: containers
# on different networks cannot reach each other unless a network accepts the other
# (`-o accept_from=NAMES` or `*`); a container on two networks reaches both; an --internal
# network reaches nothing outside wharf's networks and nothing reaches it. The rules live in
# nftables table `inet wharf`, which survives a wharf restart and is rebuilt if removed.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_isolation

mk() { # mk NAME SUBNET ARGS...
  local name=$1 subnet=$2
  shift 2
  check "network create $name $subnet $*" \
    dk_net_create "$name" -d wharf --ipam-driver wharf --subnet "$subnet" "$@"
}
mk e2e-neta 10.81.0.0/24 || exit 1
mk e2e-netc 10.83.0.0/24 || exit 1
mk e2e-netf 10.84.0.0/24 -o accept_from=e2e-neta || exit 1
mk e2e-nets 10.86.0.0/24 -o 'accept_from=*' || exit 1
mk e2e-neti 10.85.0.0/24 --internal || exit 1
check "run a1 on neta" dk_run e2e-a1 --net e2e-neta --ip 10.81.0.11 "$IMAGE" sleep 1d
check "run a2 on neta" dk_run e2e-a2 --net e2e-neta --ip 10.81.0.12 "$IMAGE" sleep 1d
check "run c1 on netc" dk_run e2e-c1 --net e2e-netc --ip 10.83.0.11 "$IMAGE" sleep 1d
check "run f1 on netf (accepts neta)" dk_run e2e-f1 --net e2e-netf --ip 10.84.0.11 "$IMAGE" sleep 1d
check "run s1 on nets (accepts all)" dk_run e2e-s1 --net e2e-nets --ip 10.86.0.11 "$IMAGE" sleep 1d
check "run i1 on neti (internal)" dk_run e2e-i1 --net e2e-neti --ip 10.85.0.11 "$IMAGE" sleep 1d
check "run d on neta" dk_run e2e-d --net e2e-neta --ip 10.81.0.13 "$IMAGE" sleep 1d
check "connect d to netc too" "$DOCKER" network connect --ip 10.83.0.13 e2e-netc e2e-d

# check_blocked DESC CONTAINER ADDR: two pings get no answer.
check_blocked() {
  if "$DOCKER" exec "$2" ping -c 2 -W 1 "$3" >/dev/null 2>&1; then
    fail "$1 ($2 reaches $3)"
  else
    pass "$1 ($2 -/-> $3)"
  fi
}

# The matrix: who opens to whom. The name in accept_from is learned from dockerd in the
# background, so the first accepted ping may have to wait for it.
matrix() {
  local when=$1
  check_ping "$when: same network" e2e-a1 10.81.0.12
  check_blocked "$when: neta -> netc" e2e-a1 10.83.0.11
  check_blocked "$when: netc -> neta" e2e-c1 10.81.0.11
  check_ping "$when: neta -> netf, which accepts neta by name" e2e-a1 10.84.0.11
  check_blocked "$when: netf -> neta (accepting is one-way)" e2e-f1 10.81.0.11
  check_blocked "$when: netc -> netf" e2e-c1 10.84.0.11
  check_ping "$when: neta -> nets, which accepts all" e2e-a1 10.86.0.11
  check_ping "$when: netc -> nets" e2e-c1 10.86.0.11
  check_blocked "$when: nets -> neta" e2e-s1 10.81.0.11
  check_ping "$when: d (neta and netc) -> neta" e2e-d 10.81.0.11
  check_ping "$when: d (neta and netc) -> netc" e2e-d 10.83.0.11
  check_blocked "$when: neta -> neti (internal)" e2e-a1 10.85.0.11
  check_blocked "$when: nets -> neti (internal)" e2e-s1 10.85.0.11
  check_ping "$when: neti -> its gateway" e2e-i1 10.85.0.1
  check_host_ping "$when: the host -> neti" 10.85.0.11
  check_host_ping "$when: the host -> neta" 10.81.0.11
}
matrix "fresh"
id_a=$(network_id e2e-neta)
check_out_match "table inet wharf has neta's chain" "chain in_${id_a:0:12}" nft list table inet wharf
check_out_match "wharf status shows netf's name" '\(e2e-netf\) mode routed' wharf_status
check_out_match "wharf status shows netf's accept_from" '^  accepts itself, e2e-neta$' wharf_status

wharf_kill KILL
check "the table goes behind wharf's back" nft delete table inet wharf
wharf_start || exit 1
check_out_match "a restarted wharf puts the table back" "chain in_${id_a:0:12}" nft list table inet wharf
matrix "after kill -9, the table deleted, and a restart"

check "disconnect d from netc" "$DOCKER" network disconnect e2e-netc e2e-d
check_blocked "d, on neta only now, -> netc" e2e-d 10.83.0.11
check_fails "accept_from=* on an --internal network is refused" 'would open an --internal network' \
  "$DOCKER" network create -d wharf --ipam-driver wharf --subnet 10.87.0.0/24 --internal \
  -o 'accept_from=*' e2e-bad
check_fails "a routed network overlapping another is refused" 'overlaps 10.81.0.0/24 of network e2e-neta' \
  "$DOCKER" network create -d wharf --subnet 10.81.0.128/25 e2e-bad
e2e_end
