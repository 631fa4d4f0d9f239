#!/usr/bin/env bash
# Open vSwitch networks on the kernel's datapath (the openvswitch module this machine's own
# kernel lacks), with two simulated hosts A and B (tests/lab/lib/dockersim.sh), each with its
# own ovsdb-server, ovs-vswitchd and wharf in its own network namespace, joined by a cable:
#   the datapath is chosen by itself (system, the module being loaded) and shows in status;
#   flat: one segment across the hosts through VXLAN tunnel ports, with the default VNI both
#         hosts derive alike; a tagged pair of networks on the same bridges too, which the
#         untagged containers do not reach;
#   nat:  the container reaches B only through masquerade (B has no route back);
#   teardown leaves no wharf row in either database and no wh*/wg* link.
# Run it inside the lab (as root): lab/run -- tests/lab/t_ovs_kernel.sh
set -uo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib/dockersim.sh"
lab_require

WIRE_A=198.18.0.1 WIRE_B=198.18.0.2
FLAT=198.19.5.0/24 TAGGED=198.19.7.0/24 NAT=198.19.6.0/24
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema

echo "kernel $(uname -r), wharf $WHARF_BIN"
check "the openvswitch module loads" modprobe openvswitch
check "the vxlan module loads" modprobe vxlan

# ovs_up HOST: an ovsdb-server and ovs-vswitchd of HOST's own, in HOST's namespace (where
# the kernel's datapath and the tunnels then live), files under $SIM_DIR/HOST-ovs.
ovs_up() {
  local name=$1 dir=$SIM_DIR/$1-ovs ns
  ns=$(sim_netns "$name") || return 1
  mkdir -p "$dir" && ovsdb-tool create "$dir/conf.db" "$SCHEMA" || return 1
  ip netns exec "$ns" ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" \
    --pidfile="$dir/ovsdb-server.pid" --unixctl="$dir/ovsdb-server.ctl" \
    --log-file="$dir/ovsdb-server.log" --detach || return 1
  ovs-vsctl --db="unix:$dir/db.sock" --no-wait init || return 1
  ip netns exec "$ns" ovs-vswitchd "unix:$dir/db.sock" --pidfile="$dir/ovs-vswitchd.pid" \
    --unixctl="$dir/ovs-vswitchd.ctl" --log-file="$dir/ovs-vswitchd.log" --detach || return 1
  # ovs-vswitchd lists its datapath types once it has read the database.
  local deadline=$((SECONDS + 60))
  until [[ $(ovs-vsctl --db="unix:$dir/db.sock" get Open_vSwitch . datapath_types) != "[]" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# Runs before sim_cleanup deletes the namespaces (hooks run last first).
ovs_down() {
  local pidfile
  for pidfile in "$SIM_DIR"/*-ovs/ovs-vswitchd.pid "$SIM_DIR"/*-ovs/ovsdb-server.pid; do
    [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  sleep 1
}
lab_at_exit ovs_down

vsctl() {
  local host=$1
  shift
  ovs-vsctl --db="unix:$SIM_DIR/$host-ovs/db.sock" "$@"
}
# owned_rows HOST: the names of every Bridge, Port and Interface row wharf marked.
owned_rows() {
  local t
  for t in Bridge Port Interface; do
    vsctl "$1" --bare --columns=name find "$t" external_ids:wharf=owned || return 1
  done | grep .
  return 0
}
# status_says HOST TEXT: wharf's status on HOST mentions TEXT.
status_says() {
  sim_status "$1" >/dev/null || return 1
  grep -q -- "$2" <<<"$SIM_BODY" || { echo "$SIM_BODY"; return 1; }
}
# not_reached CONTAINER ADDRESS: three pings get no answer.
not_reached() { ! sim_in "$1" ping -n -c3 -W1 "$2"; }
no_owned_rows() {
  local rows
  rows=$(owned_rows "$1") || return 1
  [[ -z $rows ]] || { echo "left in host $1's database: $rows"; return 1; }
}

# wharf first (it reaches ovsdb-server only when a network needs it), then each host's OVS.
for host in A B; do
  SIM_SERVE_ARGS="--ovsdb unix:$SIM_DIR/$host-ovs/db.sock" check "host $host up (wharf serving)" sim_host "$host" || exit 1
done
check "cable A:eth1 -- B:eth1" sim_wire A eth1 B eth1
check "A's wire address" ip -n "$(sim_netns A)" addr add "$WIRE_A/24" dev eth1
check "B's wire address" ip -n "$(sim_netns B)" addr add "$WIRE_B/24" dev eth1
for host in A B; do
  check "host $host's ovsdb-server and ovs-vswitchd (kernel datapath)" ovs_up "$host" || exit 1
done

# ---- flat, one segment across both hosts through VXLAN
if check "flat network on A, tunnel to B" sim_network_create A flat --subnet "$FLAT" \
  -o mode=ovs -o ovs_mode=flat -o bridge=brflat -o "vxlan_remote=$WIRE_B" &&
  check "flat network on B, tunnel to A" sim_network_create B flat --subnet "$FLAT" \
    -o mode=ovs -o ovs_mode=flat -o bridge=brflat -o "vxlan_remote=$WIRE_A"; then
  check "a1 runs on A" sim_run A a1 flat --ip 198.19.5.11
  check "a2 runs on A" sim_run A a2 flat --ip 198.19.5.12
  check "b1 runs on B" sim_run B b1 flat --ip 198.19.5.21
  check "A's bridge is on the kernel's datapath" \
    sh -c "[ \"\$(ovs-vsctl --db=unix:$SIM_DIR/A-ovs/db.sock get Bridge brflat datapath_type)\" = system ]"
  check "wharf's status on A says datapath system" status_says A 'datapath system'
  check "the kernel datapath exists in A's namespace" sh -c "ip netns exec $(sim_netns A) ip -o link show | grep -q 'ovs-system'"
  check "a1 -> a2 (same host)" sim_ping a1 198.19.5.12
  check "a1 -> b1 (across the tunnel)" sim_ping a1 198.19.5.21
  check "b1 -> a2 (across the tunnel)" sim_ping b1 198.19.5.12
  check "A has a VXLAN port to B" sh -c "ovs-vsctl --db=unix:$SIM_DIR/A-ovs/db.sock --bare --columns=options find Interface type=vxlan | grep -q 'remote_ip=\"\\?$WIRE_B'"

  # A tagged pair on the same bridges, with its own tunnel (VNI = the tag).
  if check "tagged network on A (vlan 30)" sim_network_create A tagged --subnet "$TAGGED" \
    -o mode=ovs -o ovs_mode=flat -o bridge=brflat -o vlan=30 -o "vxlan_remote=$WIRE_B" &&
    check "tagged network on B (vlan 30)" sim_network_create B tagged --subnet "$TAGGED" \
      -o mode=ovs -o ovs_mode=flat -o bridge=brflat -o vlan=30 -o "vxlan_remote=$WIRE_A"; then
    check "t1 runs on A" sim_run A t1 tagged --ip 198.19.7.11
    check "t2 runs on B" sim_run B t2 tagged --ip 198.19.7.21
    check "t1 -> t2 (vlan 30, across its tunnel)" sim_ping t1 198.19.7.21
    check "t1's port is tagged 30" sh -c "ovs-vsctl --db=unix:$SIM_DIR/A-ovs/db.sock --bare --columns=tag find Port external_ids:wharf=owned tag=30 | grep -q 30"
    # b1 (B, untagged network) takes an address in the tagged subnet: still untagged, so it
    # must not reach t2, on its own host's bridge.
    check "b1 adds 198.19.7.99/24" sim_in b1 ip addr add 198.19.7.99/24 dev eth0
    check "b1 (untagged) does not reach t2 (vlan 30, same host)" not_reached b1 198.19.7.21
    # Nor by tagging its frames itself: an untagged network's ports carry VLAN 0 only.
    check "the 8021q module loads" modprobe 8021q
    check "b1 makes itself eth0.30, 198.19.7.98/24 (and drops .99 from eth0)" sim_in b1 sh -c \
      'ip addr del 198.19.7.99/24 dev eth0 && ip link add link eth0 name eth0.30 type vlan id 30 && ip addr add 198.19.7.98/24 dev eth0.30 && ip link set eth0.30 up'
    check "b1's own VLAN 30 frames do not reach t2" not_reached b1 198.19.7.21
    check "t1 removed" sim_rm A t1
    check "t2 removed" sim_rm B t2
    check "tagged network removed on A" sim_network_rm A tagged
    check "tagged network removed on B" sim_network_rm B tagged
  fi
  check "a1 removed" sim_rm A a1
  check "a2 removed" sim_rm A a2
  check "b1 removed" sim_rm B b1
  check "flat network removed on A" sim_network_rm A flat
  check "flat network removed on B" sim_network_rm B flat
fi
check "A's database holds nothing of wharf's" no_owned_rows A
check "B's database holds nothing of wharf's" no_owned_rows B

# ---- nat on the kernel datapath: out to B through masquerade only
if check "nat network on A" sim_network_create A nat --subnet "$NAT" -o mode=ovs; then
  check "n1 runs on A" sim_run A n1 nat --ip 198.19.6.11
  check "n1 -> its gateway" sim_ping n1 198.19.6.1
  check "B has no route to $NAT" sh -c "! ip -n $(sim_netns B) route get 198.19.6.11 >/dev/null 2>&1 || ! ip -n $(sim_netns B) route get 198.19.6.11 | grep -q via"
  check "n1 -> B's wire address (masquerade)" sim_ping n1 "$WIRE_B"
  check "A's NAT table masquerades $NAT" sh -c "ip netns exec $(sim_netns A) nft list table inet wharf_nat | grep -q 198.19.6.0/24"
  check "n1 removed" sim_rm A n1
  check "nat network removed" sim_network_rm A nat
  check "no NAT table left on A" sh -c "! ip netns exec $(sim_netns A) nft list table inet wharf_nat >/dev/null 2>&1"
fi
check "A's database holds nothing of wharf's at the end" no_owned_rows A
check "nothing left on A" sim_no_leftovers A
check "nothing left on B" sim_no_leftovers B
check "wharf on A holds no network or pool" sim_wharf_empty A
check "wharf on B holds no network or pool" sim_wharf_empty B

lab_summary
