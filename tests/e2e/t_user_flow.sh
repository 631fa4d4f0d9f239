#!/usr/bin/env bash
# The flow a user follows first: a wharf network with wharf IPAM, a static and a dynamic
# container that reach each other and the host, a wharf network on Docker's default IPAM,
# host routes, and `wharf status`.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_user_flow

net=e2e-mine
check "network create -d wharf --ipam-driver wharf --subnet 10.46.0.0/16" \
  dk_net_create "$net" -d wharf --ipam-driver wharf --subnet 10.46.0.0/16 || exit 1
check "run a with --ip 10.46.1.7" dk_run e2e-a --net "$net" --ip 10.46.1.7 "$IMAGE" sleep 1d
check "run b with a dynamic address" dk_run e2e-b --net "$net" "$IMAGE" sleep 1d

ip_a=$(container_ip e2e-a "$net")
ip_b=$(container_ip e2e-b "$net")
gw=$(container_gateway e2e-a "$net")
check_eq "a has the address it asked for" 10.46.1.7 "$ip_a"
check_match "b has an address in 10.46.0.0/16" '^10\.46\.[0-9]+\.[0-9]+$' "$ip_b"
check_eq "b's address is not a's" "" "$([[ $ip_a == "$ip_b" ]] && echo "both $ip_a")"
# wharf's IPAM gives the first address of the pool to the gateway.
check_eq "Join gave Docker the pool's first address as gateway (docker inspect)" 10.46.0.1 "$gw"
check_eq "b has the same gateway" 10.46.0.1 "$(container_gateway e2e-b "$net")"
check_match "a sees 10.46.1.7 on eth0" 'inet 10\.46\.1\.7/' "$("$DOCKER" exec e2e-a ip addr show eth0 2>&1)"
check_match "a's default route goes via 10.46.0.1 on eth0" '^default via 10\.46\.0\.1 dev eth0' \
  "$("$DOCKER" exec e2e-a ip route 2>&1)"
check_match "a reaches 10.46.0.1 on-link (a connected /32, not a connected default)" \
  '^10\.46\.0\.1 dev eth0 .*scope link' "$("$DOCKER" exec e2e-a ip route 2>&1)"
check_ping "a pings b" e2e-a "$ip_b"
check_ping "b pings a" e2e-b "$ip_a"
check_ping "a pings the host (gateway)" e2e-a 10.46.0.1
check_ping "b pings the host (gateway)" e2e-b 10.46.0.1
check_host_ping "the host pings a" "$ip_a"
check_host_ping "the host pings b" "$ip_b"
# The operator's own rules (dockerd's DOCKER-USER chain) see wharf's containers' traffic
# first: a DROP there for a's address cuts b off a; without it, b reaches a again.
user_rule=(-d "$ip_a/32" -j DROP)
drop_user_rule() { iptables -w -t filter -D DOCKER-USER "${user_rule[@]}" 2>/dev/null; }
e2e_at_exit drop_user_rule
# check_operator_first WHEN: a DOCKER-USER DROP for a's address cuts b off a, and b reaches a
# again once it goes; wharf's accept rules sit after the jump to DOCKER-USER.
check_operator_first() {
  local when=$1 order
  if check "$when: a DOCKER-USER rule drops traffic to a" iptables -w -t filter -I DOCKER-USER "${user_rule[@]}"; then
    if "$DOCKER" exec e2e-b ping -c 2 -W 1 "$ip_a" >/dev/null 2>&1; then
      fail "$when: b still reaches a although DOCKER-USER drops it (wharf's accept rules come first)"
    else
      pass "$when: b cannot reach a while DOCKER-USER drops it"
    fi
    check "$when: the DOCKER-USER rule goes" iptables -w -t filter -D DOCKER-USER "${user_rule[@]}"
    check_ping "$when: b reaches a again" e2e-b "$ip_a"
  fi
  order=$(iptables -w -S FORWARD | awk '$0 == "-A FORWARD -j DOCKER-USER" { jump = NR }
    /--comment wharf/ { print (jump && NR > jump) ? "after" : "before" }' | sort -u | tr '\n' ' ')
  check_eq "$when: wharf's accept rules come after dockerd's jump to DOCKER-USER" "after " "$order"
}
check_operator_first "after docker network create"
# dockerd moves its jump back to the top when it makes a network; after a firewall reload and
# a wharf restart it does not, so where wharf puts its rules is all that counts.
wharf_kill KILL
for direction in -i -o; do
  iptables -w -t filter -D FORWARD "$direction" wh+ -m comment --comment wharf -j ACCEPT 2>/dev/null
done
wharf_start || exit 1
check_operator_first "after a firewall reload and a wharf restart"
check_out_match "the gateway address is on the host end of a's veth" \
  'wh[0-9a-f]{10} +inet 10\.46\.0\.1/32' ip -o addr show

plain=e2e-plain
check "network create -d wharf (Docker's default IPAM)" dk_net_create "$plain" -d wharf
check "run c on the default-IPAM network" dk_run e2e-c --net "$plain" "$IMAGE" sleep 1d
gw_plain=$(container_gateway e2e-c "$plain")
ip_c=$(container_ip e2e-c "$plain")
check_match "default IPAM gave c an address" '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' "$ip_c"
check_match "default IPAM gave c a gateway" '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' "$gw_plain"
check_ping "c pings its gateway" e2e-c "$gw_plain"
check_host_ping "the host pings c" "$ip_c"

routes=$(wharf_routes) || fail "cannot list the host's routes"
check_match "host route for a (proto 87)" "^10\.46\.1\.7 dev wh[0-9a-f]{10} " "$routes"
check_has "host route for b (proto 87)" "$ip_b dev" "$routes"
check_has "host route for c (proto 87)" "$ip_c dev" "$routes"

if status=$(wharf_status 2>&1); then pass "wharf status answers"; else fail "wharf status failed"; show "$status"; fi
id_mine=$(network_id "$net")
id_plain=$(network_id "$plain")
check_match "docker gave mine a 64-hex ID" '^[0-9a-f]{64}$' "$id_mine"
check_match "docker gave plain a 64-hex ID" '^[0-9a-f]{64}$' "$id_plain"
check_has "wharf status lists network mine" "${id_mine:0:12}" "$status"
check_has "wharf status lists network plain" "${id_plain:0:12}" "$status"
for a in "$ip_a" "$ip_b" "$ip_c"; do
  check_has "wharf status lists container address $a" "$a" "$status"
done
for c in e2e-a e2e-b e2e-c; do
  ep=$("$DOCKER" inspect -f '{{range .NetworkSettings.Networks}}{{.EndpointID}}{{end}}' "$c")
  check_match "docker gave $c's endpoint a 64-hex ID" '^[0-9a-f]{64}$' "$ep"
  check_has "wharf status lists the endpoint of $c" "${ep:0:12}" "$status"
done
e2e_end
