#!/usr/bin/env bash
# After every container and network is removed, nothing of wharf's is left: no link,
# no host route, no network, endpoint or pool in `wharf status --json`.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_cleanup

wharf_net=(-d wharf --ipam-driver wharf)
check "network create n1 (wharf IPAM)" dk_net_create e2e-n1 "${wharf_net[@]}" --subnet 10.46.0.0/16
check "network create n2 (wharf IPAM, IPv6, mtu)" dk_net_create e2e-n2 "${wharf_net[@]}" --ipv6 \
  --subnet 10.48.7.0/24 --subnet fd4e:47::/64 -o mtu=1400
check "network create n3 (default IPAM)" dk_net_create e2e-n3 -d wharf
check "run c1 on n1 with --ip" dk_run e2e-c1 --net e2e-n1 --ip 10.46.1.7 "$IMAGE" sleep 1d
check "run c2 on n1" dk_run e2e-c2 --net e2e-n1 "$IMAGE" sleep 1d
check "run c3 on n2" dk_run e2e-c3 --net e2e-n2 "$IMAGE" sleep 1d
check "run c4 on n3" dk_run e2e-c4 --net e2e-n3 "$IMAGE" sleep 1d
check "connect c2 to n2 too" "$DOCKER" network connect e2e-n2 e2e-c2
track_container e2e-c5
check "create c5 with extra addresses on n1" sh -c "
  '$DOCKER' create --name e2e-c5 --net none '$IMAGE' sleep 1d >/dev/null &&
  '$DOCKER' network disconnect none e2e-c5 &&
  '$DOCKER' network connect --driver-opt 'wharf.addresses=10.46.1.8;10.46.1.9' e2e-n1 e2e-c5 &&
  '$DOCKER' start e2e-c5 >/dev/null"

links=$(wharf_links) || fail "cannot list links"
routes=$(wharf_routes) || fail "cannot list routes"
check_match "while running: wharf links exist" '^wh' "$links"
check_match "while running: proto 87 routes exist" 'dev wh' "$routes"
# wharf's accept rules exist where dockerd's firewall drops forwarded traffic (for IPv6 too
# only when dockerd manages ip6tables), and nowhere else.
for tool in iptables ip6tables; do
  if forward=$("$tool" -w -S FORWARD); then
    if grep -qxE -- '-P FORWARD DROP|-A FORWARD -j DOCKER-USER' <<<"$forward"; then
      check_match "while running: wharf's $tool accept rules exist (dockerd's firewall drops)" 'wh\+.*wharf' "$forward"
    else
      check_no_match "while running: no $tool rule of wharf's (nothing drops)" 'wharf' "$forward"
    fi
  else
    fail "cannot list $tool FORWARD"
  fi
done

# IPv6 neighbours: containers of a network reach each other's IPv6 addresses through the
# gateway (their subnet's halves are routed via it), so the host keeps no neighbour entry
# per pair of containers (none at all), and nothing is left when one goes.
c3_v6=$(container_ip e2e-c3 e2e-n2 6)
check_match "c3 has an IPv6 address on n2" '^fd4e:47::' "$c3_v6"
check_ping "c2 pings c3 over IPv6" e2e-c2 "$c3_v6"
check_out_no_match "no proxy NDP entry on wharf's links" ' dev wh' ip -6 neigh show proxy
check "docker rm -f e2e-c3" "$DOCKER" rm -f e2e-c3
check_ping "c2 still pings n2's gateway over IPv6" e2e-c2 fd4e:47::1
for c in e2e-c1 e2e-c2 e2e-c4 e2e-c5; do check "docker rm -f $c" "$DOCKER" rm -f "$c"; done
for n in e2e-n1 e2e-n2 e2e-n3; do check "docker network rm $n" "$DOCKER" network rm "$n"; done

# The baseline was taken before the case made anything (e2e_begin): links, proto 87 routes,
# proxy neighbours, iptables and ip6tables rules, nftables tables must all be as they were,
# while wharf still runs.
check_kernel_unchanged "the kernel holds exactly the wharf objects it held before the case"
check_eq "no link named w[hcsd]* or aliased wharf:* is left" "" "$(wharf_links 2>&1 | tr '\n' ' ')"
json=$(wharf_status --json 2>&1)
if ! jq -e . >/dev/null 2>&1 <<<"$json"; then
  fail "wharf status --json is not JSON"
  show "$json"
else
  # Every array or object under a key naming networks, endpoints, pools, addresses or
  # routes must be empty, whatever the exact layout; and those keys must be there at all.
  keys=$(jq -c '[.. | objects | keys[] | select(test("network|endpoint|pool"; "i"))] | unique' <<<"$json")
  check_match "wharf status --json reports networks and pools" '"networks".*"pools"' "$keys"
  leftovers=$(jq -c '[.. | objects | to_entries[]
      | select(.key | test("network|endpoint|pool|address|route"; "i"))
      | select((.value | type) == "array" or (.value | type) == "object")
      | select((.value | length) > 0) | {(.key): .value}]' <<<"$json")
  check_eq "wharf status --json shows no networks, endpoints or pools" "[]" "$leftovers"
fi
e2e_end
