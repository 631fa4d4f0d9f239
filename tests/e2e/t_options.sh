#!/usr/bin/env bash
# Network options a user passes with -o, --internal and --ipv6.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_options

wharf_net=(-d wharf --ipam-driver wharf)

# -o mtu=1400
if check "network create -o mtu=1400" dk_net_create e2e-mtu "${wharf_net[@]}" --subnet 10.48.1.0/24 -o mtu=1400 &&
  check "run a container on the mtu network" dk_run e2e-mtu1 --net e2e-mtu "$IMAGE" sleep 1d; then
  check_eq "eth0 in the container has mtu 1400" 1400 "$("$DOCKER" exec e2e-mtu1 cat /sys/class/net/eth0/mtu 2>&1)"
  host_if=$(ip -o route show proto 87 | awk -v a="$(container_ip e2e-mtu1 e2e-mtu)" '$1 == a {print $3}')
  if check_match "a host route leads to the container's host end" '^wh[0-9a-f]{10}$' "$host_if"; then
    check_eq "host end $host_if has mtu 1400" 1400 "$(cat "/sys/class/net/$host_if/mtu" 2>&1)"
  fi
fi

# Bad options fail and name the option; no network is left behind.
bad_option() {
  local what=$1 re=$2 name=$3
  shift 3
  track_network "$name"
  check_fails "network create $what fails naming it" "$re" \
    "$DOCKER" network create "${wharf_net[@]}" "$@" "$name"
  if "$DOCKER" network inspect "$name" >/dev/null 2>&1; then
    fail "network $name exists although its create failed"
  fi
}
bad_option "-o bogus=1" 'unknown option "bogus" for a wharf routed network' e2e-bogus --subnet 10.48.2.0/24 -o bogus=1
bad_option "-o mtu=abc" 'option mtu: "abc" is not a number between' e2e-badmtu --subnet 10.48.2.0/24 -o mtu=abc
bad_option "-o mode=nope" 'option mode: "nope" is not a wharf mode' e2e-badmode --subnet 10.48.2.0/24 -o mode=nope
check_out_no_match "no pool or network of the failed creates is left in wharf status" '10\.48\.2\.' wharf_status --json

# --internal: no default route, but containers on the network reach each other.
if check "network create --internal" dk_net_create e2e-internal "${wharf_net[@]}" --internal --subnet 10.48.3.0/24 &&
  check "run i1 on the internal network" dk_run e2e-i1 --net e2e-internal "$IMAGE" sleep 1d &&
  check "run i2 on the internal network" dk_run e2e-i2 --net e2e-internal "$IMAGE" sleep 1d; then
  check_out_no_match "i1 has no default route" '^default' "$DOCKER" exec e2e-i1 ip route
  check_out_match "i1 reaches its subnet on-link (the host answers ARP for it)" '^10\.48\.3\.0/24 dev eth0' "$DOCKER" exec e2e-i1 ip route
  check_ping "i1 pings i2 on the internal network" e2e-i1 "$(container_ip e2e-i2 e2e-internal)"
  check_ping "i2 pings i1 on the internal network" e2e-i2 "$(container_ip e2e-i1 e2e-internal)"
fi

# --ipv6
if check "network create --ipv6 --subnet fd4e:46::/64" dk_net_create e2e-v6 "${wharf_net[@]}" --ipv6 \
  --subnet 10.48.6.0/24 --subnet fd4e:46::/64 &&
  check "run v1 on the ipv6 network" dk_run e2e-v1 --net e2e-v6 "$IMAGE" sleep 1d &&
  check "run v2 on the ipv6 network" dk_run e2e-v2 --net e2e-v6 "$IMAGE" sleep 1d; then
  v1=$(container_ip e2e-v1 e2e-v6 6)
  v2=$(container_ip e2e-v2 e2e-v6 6)
  gw6=$(gateway_of e2e-v1 e2e-v6 6)
  check_match "v1 has an address in fd4e:46::/64" '^fd4e:46::' "$v1"
  check_match "v2 has an address in fd4e:46::/64" '^fd4e:46::' "$v2"
  check_match "Join gave Docker an IPv6 gateway (docker inspect)" '^fd4e:46::' "$(container_gateway e2e-v1 e2e-v6 6)"
  check_ping "v1 ping6 v2" e2e-v1 "$v2"
  check_ping "v2 ping6 v1" e2e-v2 "$v1"
  check_ping "v1 ping6 the gateway" e2e-v1 "$gw6"
  check_ping "v1 pings v2 over IPv4" e2e-v1 "$(container_ip e2e-v2 e2e-v6)"
  check_has "host route for v1's IPv6 address (proto 87)" "$v1 dev" "$(ip -6 route show proto 87)"
  check_host_ping "the host pings v1 over IPv6" "$v1"
  check_host_ping "the host pings v1 over IPv4" "$(container_ip e2e-v1 e2e-v6)"
fi
e2e_end
