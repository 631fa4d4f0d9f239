#!/usr/bin/env bash
# Smoke test of the real-kernel lab: the kernel features this machine's own kernel lacks
# (ipvlan, 8021q, dummy, openvswitch) are there. Run it inside the lab:
#   lab/run -- tests/lab/t_kernel_features.sh
# Prints PASS/FAIL lines and ends with "N passed, N failed"; exits non-zero on a failure.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib/check.sh"
lab_require

# shows LINK PATTERN: `ip -d link show LINK` matches the extended regex PATTERN.
shows() { ip -d link show "$1" | tee /dev/stderr | grep -Eq "$2"; }

echo "kernel $(uname -r)"
for m in ipvlan 8021q dummy openvswitch macvlan veth; do
  check "modprobe $m" modprobe "$m"
done

check "dummy link created" ip link add dummy0 type dummy
check "dummy link up" ip link set dummy0 up
check "dummy link is dummy" shows dummy0 'dummy'

check "vlan dummy0.30 created" ip link add link dummy0 name dummy0.30 type vlan id 30
check "vlan is 802.1Q id 30" shows dummy0.30 'vlan protocol 802\.1Q id 30 '
check "vlan dummy0.30 up" ip link set dummy0.30 up
check "vlan dummy0.30 deleted" ip link del dummy0.30

for mode in l2 l3 l3s; do
  check "ipvlan $mode created" ip link add link dummy0 name ipv$mode type ipvlan mode "$mode"
  check "ipvlan $mode is mode $mode" shows "ipv$mode" "ipvlan +mode $mode "
  check "ipvlan $mode deleted" ip link del "ipv$mode"
done

check "macvlan created" ip link add link dummy0 name macv0 type macvlan mode bridge
check "macvlan is bridge mode" shows macv0 'macvlan +mode bridge '
check "macvlan deleted" ip link del macv0

check "veth pair created" ip link add vethA type veth peer name vethB
check "veth pair deleted" ip link del vethA

check "openvswitch datapath genetlink family" genl ctrl get name ovs_datapath
check "openvswitch vport genetlink family" genl ctrl get name ovs_vport

check "dummy link deleted" ip link del dummy0
# no_other_links: the links can be listed, and lo is the only one.
no_other_links() {
  local links
  links=$(ip -br link) || return 1
  ! grep -Ev '^lo ' <<<"$links"
}
check "no link left behind" no_other_links

lab_summary
