#!/usr/bin/env bash
# wharf's Open vSwitch mode (`-o mode=ovs`) against a private Open vSwitch with the userspace
# datapath: nat networks (gateway on the bridge, masquerade, published ports from outside,
# from the host and hairpin), flat networks sharing a bridge on VLANs 10 and 20 and one with
# an uplink, survival of a wharf kill -9 plus an ovsdb-server restart, refused bad input
# (an unreachable ovsdb among it) that leaves nothing behind, the old plugin's daemon form
# (--mode nat --bridge-subnet ...), and a clean OVS and kernel once everything is removed.
# Every OVS row wharf writes carries external_ids:wharf=owned; its NAT lives in table inet
# wharf_nat. On a failed scenario the case shows wharf's log tail, ovs-vsctl show and the
# NAT table while the scenario's objects still exist.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_ovs

ovs_start || exit 1
# wharf must talk to the private ovsdb-server, never the system's.
wharf_start_ovs() { wharf_start --ovsdb "unix:$OVS_DIR/db.sock" "$@"; }

# Namespaces this case makes (an "outside" host, the segment behind an uplink); the exit
# hook deletes them, and with them their ends of the veths.
NS_OUT=e2e-ovsout
NS_SEG=e2e-ovsseg
netns_end() {
  ip netns del "$NS_OUT" 2>/dev/null
  ip netns del "$NS_SEG" 2>/dev/null
  ip link del e2e-out0 2>/dev/null
  ip link del e2e-upl0 2>/dev/null
  return 0
}
e2e_at_exit netns_end

# scenario_end NAME: after a scenario that failed, show what OVS, nftables and wharf looked
# like while its objects still existed.
fails_seen=0
scenario_end() {
  local now
  now=$(count FAIL)
  if ((now > fails_seen)); then
    echo "    $1: $((now - fails_seen)) check(s) failed; the state at the end of it:"
    ovs_diag
  fi
  fails_seen=$now
}

ovs_net() { # ovs_net NAME SUBNET GATEWAY [ARGS...]: an OVS network, remembered for cleanup
  local name=$1 subnet=$2 gw=$3
  shift 3
  check "network create $name -o mode=ovs $* $subnet" \
    dk_net_create "$name" -d wharf --ipam-driver wharf -o mode=ovs "$@" --subnet "$subnet" --gateway "$gw"
}

# check_blocked DESC CONTAINER ADDR: two pings get no answer.
check_blocked() {
  if "$DOCKER" exec "$2" ping -c 2 -W 1 "$3" >/dev/null 2>&1; then
    fail "$1 ($2 reaches $3)"
  else
    pass "$1 ($2 -/-> $3)"
  fi
}

# fetch WHERE URL: GET URL with busybox wget from WHERE: "host", "ns:NAMESPACE" or
# "ct:CONTAINER". Prints the body. (busybox 1.35's wget -T crashes: timeout instead.)
fetch() {
  local where=$1 url=$2
  case $where in
    host) timeout 3 busybox wget -qO- "$url" ;;
    ns:*) ip netns exec "${where#ns:}" timeout 3 busybox wget -qO- "$url" ;;
    ct:*) "$DOCKER" exec "${where#ct:}" timeout 3 wget -qO- "$url" ;;
  esac
}
fetch_ok() { [[ $(fetch "$1" "$2" 2>/dev/null) == wharf-ok ]]; }

# check_http DESC WHERE URL: the page is wharf-ok (retried for 10 s).
check_http() {
  if retry 10 fetch_ok "$2" "$3"; then pass "$1 ($2 GET $3)"; return 0; fi
  fail "$1 ($2 GET $3 did not return wharf-ok)"
  show "$(fetch "$2" "$3" 2>&1)"
  return 1
}

# check_http_gone DESC WHERE URL: nothing answers with the page any more.
check_http_gone() {
  local out
  if out=$(fetch "$2" "$3" 2>&1); then
    fail "$1 ($2 GET $3 still answers)"
    show "$out"
    return 1
  fi
  pass "$1 ($2 GET $3: $(tr '\n' ' ' <<<"$out" | cut -c1-80))"
}

# host_end CONTAINER ADDR: the host end of the veth that holds ADDR in CONTAINER (the link
# whose ifindex is the container interface's iflink).
host_end() {
  local dev idx
  dev=$("$DOCKER" exec "$1" ip -o -4 addr show 2>/dev/null | awk -v a="$2" '{ split($4, p, "/") } p[1] == a { print $2; exit }')
  [[ -n $dev ]] || return 1
  idx=$("$DOCKER" exec "$1" cat "/sys/class/net/$dev/iflink" 2>/dev/null) || return 1
  ip -o link show | awk -F': ' -v i="$idx" '$1 == i { name = $2; sub(/@.*/, "", name); print name }'
}

# wh_ports BRIDGE: the container ports (wh + 10 hex digits) of BRIDGE, sorted.
wh_ports() {
  local out
  out=$(ovs_vsctl list-ports "$1") || return 1
  grep -E '^wh[0-9a-f]{10}$' <<<"$out" | sort
  return 0
}

# check_ports DESC BRIDGE CONTAINER:ADDR...: BRIDGE's container ports are exactly the host
# ends of those containers' veths, each owned by wharf (Port and Interface rows), each a veth
# with the default MTU 1450.
check_ports() {
  local desc=$1 br=$2 c addr end want=() got owned ok=1
  shift 2
  for c in "$@"; do
    addr=${c#*:} c=${c%%:*}
    if ! end=$(host_end "$c" "$addr") || [[ -z $end ]]; then
      fail "$desc: cannot find the host end of $c's veth ($addr)"
      return 1
    fi
    want+=("$end")
  done
  if ! got=$(wh_ports "$br"); then
    fail "$desc: cannot list the ports of bridge $br"
    show "$(ovs_vsctl show 2>&1)"
    return 1
  fi
  check_eq "$desc: the container ports of $br are the containers' veths" \
    "$(printf '%s\n' "${want[@]}" | sort | tr '\n' ' ')" "$(tr '\n' ' ' <<<"$got")" || ok=0
  owned=$(ovs_owned) || { fail "$desc: cannot list the OVS rows owned by wharf"; return 1; }
  for end in "${want[@]}"; do
    if ! grep -qxF "Port $end" <<<"$owned" || ! grep -qxF "Interface $end" <<<"$owned"; then
      fail "$desc: port $end is not marked external_ids:wharf=owned (Port and Interface rows)"
      ok=0
    fi
    ip -d link show dev "$end" 2>/dev/null | grep -qw veth || { fail "$desc: $end is not a veth on the host"; ok=0; }
    [[ $(<"/sys/class/net/$end/mtu") == 1450 ]] 2>/dev/null ||
      { fail "$desc: $end has MTU $(cat "/sys/class/net/$end/mtu" 2>&1), not the default 1450"; ok=0; }
  done
  ((ok)) && pass "$desc: ${#want[@]} owned veth port(s) on $br, MTU 1450"
}

# check_nothing_left DESC MARK OWNED BRIDGES: after a refusal, the kernel holds the wharf
# objects it held at MARK and OVS the same owned rows and bridges as before.
check_nothing_left() {
  local now
  check_kernel_unchanged "$1: no wh* link, route or NAT table left" "$2"
  now=$(ovs_owned) || { fail "$1: cannot list the OVS rows owned by wharf"; return 1; }
  check_eq "$1: no new OVS rows owned by wharf" "$3" "$now"
  check_eq "$1: no new OVS bridge" "$4" "$(ovs_vsctl list-br 2>&1)"
}

# ---------------------------------------------------------------- an unreachable ovsdb
# wharf starts with an ovsdb address where nothing listens; creating an OVS network must
# fail naming the address, and leave nothing.
wharf_kill
if wharf_start --ovsdb unix:/nonexistent/db.sock; then
  kernel_mark noovsdb
  owned0=$(ovs_owned) brs0=$(ovs_vsctl list-br 2>&1)
  check_fails "ovsdb unreachable: network create is refused, naming the address" 'unix:/nonexistent/db\.sock' \
    "$DOCKER" network create -d wharf --ipam-driver wharf -o mode=ovs --subnet 10.91.9.0/24 e2e-ovsbad
  check_nothing_left "ovsdb unreachable" noovsdb "$owned0" "$brs0"
  wharf_kill
fi
wharf_start_ovs || exit 1
scenario_end "ovsdb unreachable"

# ---------------------------------------------------------------- nat
# The "outside" host: a namespace behind a veth, 10.93.0.1/30 on the host, 10.93.0.2/30
# inside, with no route back to the containers: they reach it only through masquerade.
check "outside namespace $NS_OUT" ip netns add "$NS_OUT"
check "veth e2e-out0 (host) / e2e-out1 ($NS_OUT)" ip link add e2e-out0 type veth peer name e2e-out1 netns "$NS_OUT"
check "10.93.0.1/30 on e2e-out0" ip addr add 10.93.0.1/30 dev e2e-out0
check "e2e-out0 up" ip link set e2e-out0 up
check "10.93.0.2/30 in $NS_OUT" ip -n "$NS_OUT" addr add 10.93.0.2/30 dev e2e-out1
check "e2e-out1 and lo up" sh -c "ip -n $NS_OUT link set e2e-out1 up && ip -n $NS_OUT link set lo up"
check_out_no_match "$NS_OUT has no route to 10.91.0.0/24" '10\.91\.|default' ip -n "$NS_OUT" route

# NAT_OK, FLAT_OK, UP_OK: that scenario's networks exist (later scenarios use them).
NAT_OK=0 FLAT_OK=0 UP_OK=0 NAT_BR=""
nat_scenario() {
  ovs_net e2e-ovsnat 10.91.0.0/24 10.91.0.1 || return 1
  NAT_OK=1
  local id br
  id=$(network_id e2e-ovsnat)
  br=ovs-${id:0:11}
  NAT_BR=$br
  check "run n1 on ovsnat" dk_run e2e-n1 --net e2e-ovsnat --ip 10.91.0.11 "$IMAGE" sleep 1d
  check "run n2 on ovsnat" dk_run e2e-n2 --net e2e-ovsnat --ip 10.91.0.12 "$IMAGE" sleep 1d
  check_ping "nat: n1 pings n2" e2e-n1 10.91.0.12
  check_ping "nat: n2 pings n1" e2e-n2 10.91.0.11
  check_ping "nat: n1 pings the gateway" e2e-n1 10.91.0.1
  check_host_ping "nat: the host pings n1" 10.91.0.11
  check_ping "nat: n1 reaches the outside namespace (masquerade)" e2e-n1 10.93.0.2

  check_out_match "nat: bridge $br is owned by wharf" "^Bridge $br\$" ovs_owned
  check_out_match "nat: $br uses the userspace datapath" '^"?netdev"?$' ovs_vsctl get Bridge "$br" datapath_type
  check_ports "nat" "$br" e2e-n1:10.91.0.11 e2e-n2:10.91.0.12
  # The gateway is the network's own internal port of the bridge, wg + 12 ID digits.
  local gw=wg${id:0:12}
  check_out_match "nat: $gw is an owned internal port of $br" "^Port $gw\$" ovs_owned
  check_out_match "nat: gateway 10.91.0.1/32 on $gw" 'inet 10\.91\.0\.1/32 ' ip -4 addr show dev "$gw"
  check_out_match "nat: proto 87 route for 10.91.0.0/24 via $gw" "^10\\.91\\.0\\.0/24 dev $gw " ip route show proto 87
  local nat
  nat=$(nft list table inet wharf_nat 2>&1)
  check_match "nat: table inet wharf_nat masquerades" masquerade "$nat"
  check_has "nat: table inet wharf_nat names the subnet 10.91.0.0/24" 10.91.0.0/24 "$nat"
  check_out_match "nat: wharf status shows the bridge and the netdev datapath" "ovs bridge $br.*datapath netdev|datapath netdev.*ovs bridge $br" wharf_status

  check "run a web server publishing 8080 on ovsnat" dk_run e2e-web --net e2e-ovsnat -p 8080:80 "$IMAGE" \
    sh -c 'mkdir -p /www && echo wharf-ok >/www/index.html && exec httpd -f -p 80 -h /www' || return 1
  local web_ip
  web_ip=$(container_ip e2e-web e2e-ovsnat)
  nat=$(nft list table inet wharf_nat 2>&1)
  check_match "nat: wharf_nat has a DNAT" dnat "$nat"
  check_has "nat: wharf_nat names port 8080" 8080 "$nat"
  check_has "nat: wharf_nat names the web server $web_ip" "$web_ip" "$nat"
  check_http "nat: published port from the outside namespace" "ns:$NS_OUT" http://10.93.0.1:8080/
  check_http "nat: published port from the host, on its own address" host http://10.93.0.1:8080/
  check_http "nat: published port from the host, on 127.0.0.1" host http://127.0.0.1:8080/
  check_http "nat: published port from a container on the same network (hairpin)" ct:e2e-n2 http://10.93.0.1:8080/
  check_ports "nat with the web server" "$br" e2e-n1:10.91.0.11 e2e-n2:10.91.0.12 "e2e-web:$web_ip"
  check "docker rm -f e2e-web" "$DOCKER" rm -f e2e-web
  check_http_gone "nat: port 8080 no longer answers the outside namespace" "ns:$NS_OUT" http://10.93.0.1:8080/
  check_http_gone "nat: port 8080 no longer answers the host on 127.0.0.1" host http://127.0.0.1:8080/
  check_out_no_match "nat: wharf_nat has no 8080 any more" '\b8080\b' nft list table inet wharf_nat
  check_ports "nat after the web server left" "$br" e2e-n1:10.91.0.11 e2e-n2:10.91.0.12
}
nat_scenario
scenario_end nat

# ---------------------------------------------------------------- flat, VLANs, uplink
flat_scenario() {
  ovs_net e2e-flat10 10.92.10.0/24 10.92.10.1 -o ovs_mode=flat -o bridge=e2e-ovsflat -o vlan=10 || return 1
  ovs_net e2e-flat20 10.92.20.0/24 10.92.20.1 -o ovs_mode=flat -o bridge=e2e-ovsflat -o vlan=20 -o host_address=true || return 1
  FLAT_OK=1
  check "run f10a on flat10" dk_run e2e-f10a --net e2e-flat10 --ip 10.92.10.11 --cap-add NET_ADMIN "$IMAGE" sleep 1d
  check "run f20a on flat20" dk_run e2e-f20a --net e2e-flat20 --ip 10.92.20.11 --cap-add NET_ADMIN "$IMAGE" sleep 1d
  check "run f20b on flat20" dk_run e2e-f20b --net e2e-flat20 --ip 10.92.20.12 --cap-add NET_ADMIN "$IMAGE" sleep 1d
  check_out_match "flat: bridge e2e-ovsflat is owned by wharf" '^Bridge e2e-ovsflat$' ovs_owned
  check_eq "flat: the two networks share one bridge e2e-ovsflat" 1 "$(ovs_vsctl list-br 2>&1 | grep -cx e2e-ovsflat)"
  check_ports "flat" e2e-ovsflat e2e-f10a:10.92.10.11 e2e-f20a:10.92.20.11 e2e-f20b:10.92.20.12
  local c addr tag end
  for c in e2e-f10a:10.92.10.11:10 e2e-f20a:10.92.20.11:20 e2e-f20b:10.92.20.12:20; do
    IFS=: read -r c addr tag <<<"$c"
    end=$(host_end "$c" "$addr")
    check_eq "flat: $c's port ${end:-?} has tag $tag in OVS" "$tag" "$(ovs_vsctl get Port "${end:-none}" tag 2>&1)"
  done
  check_ping "flat: f20a pings f20b" e2e-f20a 10.92.20.12
  # flat20 asked for an address of the host's (host_address=true); flat10 did not.
  check_host_ping "flat: the host reaches f20a through its address on flat20" 10.92.20.11
  check_out_no_match "flat: the host has no route into flat10" '^10\.92\.10\.' ip route show proto 87
  check_ping "flat: f20b pings f20a" e2e-f20b 10.92.20.11
  local dev
  dev=$("$DOCKER" exec e2e-f10a ip -o -4 addr show 2>/dev/null | awk '$4 ~ /^10\.92\.10\.11\// { print $2; exit }')
  check "flat: f10a adds itself 10.92.20.50/24" "$DOCKER" exec e2e-f10a ip addr add 10.92.20.50/24 dev "${dev:-eth0}"
  check_blocked "flat: f10a (VLAN 10, with an address in 10.92.20.0/24) cannot reach f20a (VLAN 20)" e2e-f10a 10.92.20.11
  check "run f20c on flat20" dk_run e2e-f20c --net e2e-flat20 --ip 10.92.20.13 --cap-add NET_ADMIN "$IMAGE" sleep 1d
  check_ping "flat: a third flat20 container, f20c, reaches f20a" e2e-f20c 10.92.20.11
  check_out_match "flat: wharf status shows vlan 10 on e2e-ovsflat" 'ovs bridge e2e-ovsflat.*vlan 10|vlan 10.*ovs bridge e2e-ovsflat' wharf_status
  check_out_match "flat: wharf status shows vlan 20 on e2e-ovsflat" 'ovs bridge e2e-ovsflat.*vlan 20|vlan 20.*ovs bridge e2e-ovsflat' wharf_status
  if nft list table inet wharf_nat >/dev/null 2>&1; then
    check_out_no_match "flat: no NAT for the flat subnets" '10\.92\.' nft list table inet wharf_nat
  fi
}
flat_scenario
scenario_end "flat + VLANs"

# The uplink: a veth whose far end, in a namespace standing for the physical segment, holds
# 10.92.30.200/24; the host end becomes a port of an untagged flat network's bridge.
uplink_scenario() {
  check "segment namespace $NS_SEG" ip netns add "$NS_SEG" || return 1
  check "veth e2e-upl0 (host) / e2e-upl1 ($NS_SEG)" ip link add e2e-upl0 type veth peer name e2e-upl1 netns "$NS_SEG" || return 1
  check "e2e-upl0 up" ip link set e2e-upl0 up
  check "10.92.30.200/24 in $NS_SEG" ip -n "$NS_SEG" addr add 10.92.30.200/24 dev e2e-upl1
  check "e2e-upl1 up" ip -n "$NS_SEG" link set e2e-upl1 up
  ovs_net e2e-flatup 10.92.30.0/24 10.92.30.1 -o ovs_mode=flat -o uplink=e2e-upl0 || return 1
  UP_OK=1
  local id br
  id=$(network_id e2e-flatup)
  br=ovs-${id:0:11}
  check_eq "uplink: e2e-upl0 is a port of the network's bridge $br" "$br" "$(ovs_vsctl port-to-br e2e-upl0 2>&1)"
  check_out_match "uplink: the uplink port is owned by wharf" '^Port e2e-upl0$' ovs_owned
  check "run u1 on flatup" dk_run e2e-u1 --net e2e-flatup --ip 10.92.30.11 "$IMAGE" sleep 1d
  check_ping "uplink: u1 pings the segment behind the uplink" e2e-u1 10.92.30.200
}
uplink_scenario
scenario_end uplink

# ---------------------------------------------------------------- restart
# wharf killed with -9 and ovsdb-server restarted under it; the containers made before keep
# their connectivity, a new one attaches, OVS holds exactly their ports, and a web server
# published on 8081 keeps its DNAT.
restart_scenario() {
  if ((NAT_OK)); then
    check "run web2 publishing 8081 on ovsnat" dk_run e2e-web2 --net e2e-ovsnat -p 8081:80 "$IMAGE" \
      sh -c 'mkdir -p /www && echo wharf-ok >/www/index.html && exec httpd -f -p 80 -h /www'
    check_http "before the restarts: 8081 from the outside namespace" "ns:$NS_OUT" http://10.93.0.1:8081/
  fi
  wharf_kill KILL
  ovs_restart_db || return 1
  wharf_start_ovs || exit 1
  local nports=0
  if ((NAT_OK)); then
    check_ping "after wharf kill -9 and an ovsdb-server restart: n1 pings n2" e2e-n1 10.91.0.12
    check "after the restarts: run n3 on ovsnat" dk_run e2e-n3 --net e2e-ovsnat --ip 10.91.0.13 "$IMAGE" sleep 1d
    check_ping "after the restarts: n3 pings n1" e2e-n3 10.91.0.11
    check_ping "after the restarts: n3 pings the gateway" e2e-n3 10.91.0.1
    local id br web_ip
    id=$(network_id e2e-ovsnat)
    br=ovs-${id:0:11}
    web_ip=$(container_ip e2e-web2 e2e-ovsnat)
    check_ports "after the restarts, nat" "$br" e2e-n1:10.91.0.11 e2e-n2:10.91.0.12 e2e-n3:10.91.0.13 "e2e-web2:$web_ip"
    check_out_match "after the restarts: wharf_nat still publishes 8081" '\b8081\b' nft list table inet wharf_nat
    check_http "after the restarts: 8081 from the outside namespace" "ns:$NS_OUT" http://10.93.0.1:8081/
    nports=$((nports + 4))
  fi
  if ((FLAT_OK)); then
    check_ping "after the restarts: f20a pings f20b" e2e-f20a 10.92.20.12
    check_ports "after the restarts, flat" e2e-ovsflat e2e-f10a:10.92.10.11 e2e-f20a:10.92.20.11 e2e-f20b:10.92.20.12 e2e-f20c:10.92.20.13
    nports=$((nports + 4))
  fi
  if ((UP_OK)); then
    check_ping "after the restarts: u1 pings the segment" e2e-u1 10.92.30.200
    nports=$((nports + 1))
  fi
  # Every owned container port is a running container's: nothing stale, nothing twice.
  local owned
  if owned=$(ovs_owned); then
    check_eq "after the restarts: owned container ports = running containers ($nports)" "$nports" \
      "$(awk '$1 == "Port" && $2 ~ /^wh/ { n++ } END { print n + 0 }' <<<"$owned")"
  else
    fail "after the restarts: cannot list the OVS rows owned by wharf"
  fi
}
restart_scenario
scenario_end restart

# ---------------------------------------------------------------- a wiped database
# ovsdb-server comes back with an empty database while wharf runs: ovs-vswitchd removes every
# bridge, and wharf, seeing the server back, puts its bridges and ports back.
owned_rows_are() { [[ $(ovs_owned 2>&1) == "$1" ]]; }
wiped_scenario() {
  ((NAT_OK || FLAT_OK)) || return 0
  local before
  before=$(ovs_owned) || { fail "wiped: cannot list the OVS rows owned by wharf"; return 1; }
  ovs_wipe_db || return 1
  if ! retry 30 owned_rows_are "$before"; then
    fail "wiped: wharf did not put its ports back within 30 s"
    show "$(wharf_log_tail 20)"
  fi
  check_eq "wiped: wharf's rows are as before" "$before" "$(ovs_owned 2>&1)"
  if ((NAT_OK)); then
    check_ping "wiped: n1 pings n2 again" e2e-n1 10.91.0.12
    check_ping "wiped: n3 pings the gateway again" e2e-n3 10.91.0.1
    check_http "wiped: 8081 from the outside namespace again" "ns:$NS_OUT" http://10.93.0.1:8081/
  fi
  if ((FLAT_OK)); then
    check_ping "wiped: f20a pings f20b again" e2e-f20a 10.92.20.12
  fi
}
wiped_scenario
scenario_end wiped

# ---------------------------------------------------------------- bad input
# Each refusal leaves no OVS row, link, route or NAT table behind.
bad() { # bad DESC REGEX ARGS...: network create with ARGS is refused matching REGEX
  local desc=$1 re=$2 owned brs
  shift 2
  kernel_mark bad
  owned=$(ovs_owned) brs=$(ovs_vsctl list-br 2>&1)
  track_network e2e-ovsbad
  check_fails "$desc" "$re" "$DOCKER" network create -d wharf --ipam-driver wharf -o mode=ovs "$@" e2e-ovsbad
  check_nothing_left "$desc" bad "$owned" "$brs"
}
bad "vlan 4095 is refused (1..4094)" 'vlan.*4094|4094.*vlan' \
  -o ovs_mode=flat -o vlan=4095 --subnet 10.92.90.0/24
bad "a missing uplink is refused" 'wnosuch0.*does not exist|does not exist.*wnosuch0' \
  -o ovs_mode=flat -o uplink=wnosuch0 --subnet 10.92.91.0/24
bad "a 16-character bridge name is refused (15 at most)" 'bridge.*15|15.*bridge' \
  -o ovs_mode=flat -o bridge=e2e-ovs-toolong1 --subnet 10.92.92.0/24
bad "an uplink on a nat network is refused (flat only)" 'flat' \
  -o uplink=e2e-out0 --subnet 10.91.92.0/24
scenario_end "bad input"

# ---------------------------------------------------------------- the old plugin's daemon form
# wharf serve --mode nat --bridge-subnet CIDR --gateway IP --bridge-name NAME: a network
# created with no options is an OVS nat network on that bridge.
daemon_form_scenario() {
  wharf_kill
  wharf_start_ovs --mode nat --bridge-subnet 10.91.50.0/24 --gateway 10.91.50.1 --bridge-name e2e-ovsdflt || return 1
  check "network create e2e-ovsdflt with no options (daemon form)" \
    dk_net_create e2e-ovsdflt -d wharf --ipam-driver wharf --subnet 10.91.50.0/24 --gateway 10.91.50.1 || return 1
  check "run d1 on ovsdflt" dk_run e2e-d1 --net e2e-ovsdflt --ip 10.91.50.11 "$IMAGE" sleep 1d
  check_ping "daemon form: d1 pings the gateway on the bridge" e2e-d1 10.91.50.1
  check_ports "daemon form" e2e-ovsdflt e2e-d1:10.91.50.11
  check_out_match "daemon form: wharf status shows bridge e2e-ovsdflt" 'ovs bridge e2e-ovsdflt' wharf_status
  check "docker rm -f d1" "$DOCKER" rm -f e2e-d1
  check "network rm ovsdflt" "$DOCKER" network rm e2e-ovsdflt
  check_out_no_match "daemon form: bridge e2e-ovsdflt is gone" '^e2e-ovsdflt$' ovs_vsctl list-br
}
daemon_form_scenario
wharf_kill
wharf_start_ovs || exit 1
scenario_end "daemon form"

# ---------------------------------------------------------------- cleanup
# Containers first, then the networks; flat10 goes before flat20, which still uses the
# shared bridge.
for c in e2e-n1 e2e-n2 e2e-n3 e2e-web2 e2e-f10a e2e-f20a e2e-f20b e2e-f20c e2e-u1; do
  "$DOCKER" rm -f "$c" >/dev/null 2>&1
done
if ((NAT_OK)); then
  check "network rm ovsnat" "$DOCKER" network rm e2e-ovsnat
  check_out_no_match "network rm ovsnat removed its bridge $NAT_BR" "^$NAT_BR\$" ovs_vsctl list-br
  check_fails "no link $NAT_BR on the host any more" 'does not exist' ip link show dev "$NAT_BR"
  check_out_no_match "network rm ovsnat removed its route" '10\.91\.0\.0/24' ip route show proto 87
fi
check_fails "no table inet wharf_nat once no nat network is left" 'no such file|does not exist|not found' \
  nft list table inet wharf_nat
if ((FLAT_OK)); then
  check "network rm flat10" "$DOCKER" network rm e2e-flat10
  check_out_match "bridge e2e-ovsflat stays while flat20 uses it" '^e2e-ovsflat$' ovs_vsctl list-br
  check "network rm flat20" "$DOCKER" network rm e2e-flat20
fi
((UP_OK)) && check "network rm flatup" "$DOCKER" network rm e2e-flatup
check_out_no_match "no bridge e2e-ovsflat" '^e2e-ovsflat$' ovs_vsctl list-br
check_out_no_match "no OVS bridge left at all" . ovs_vsctl list-br
check_out_no_match "no OVS row owned by wharf" . ovs_owned
check_fails "no link e2e-ovsflat on the host" 'does not exist' ip link show dev e2e-ovsflat
((UP_OK)) && check "the uplink e2e-upl0 itself is left to its owner" ip link show dev e2e-upl0
check_kernel_unchanged "the kernel holds no wharf object the case began without"
scenario_end cleanup
e2e_end
