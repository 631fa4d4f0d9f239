#!/usr/bin/env bash
# macvlan networks on this machine's kernel: the parent is one end of a veth pair (the
# "wire"); its other end sits in a namespace this case makes, standing for a host on the
# parent's segment. Containers reach each other and that host; modes show in `ip -d link`;
# bad parents and MTUs fail with clear messages and leave nothing behind.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

WIRE=e2emv0 FAR=e2emv1 FAR_NS=e2e-macvlan-far-$$
# Not the kernel's default 1500, so that "the container's MTU is the parent's" means something.
WIRE_MTU=1480
wire_cleanup() {
  ip link del "$WIRE" 2>/dev/null
  ip netns del "$FAR_NS" 2>/dev/null
}
e2e_begin t_macvlan
e2e_at_exit wire_cleanup

if ! { ip netns add "$FAR_NS" && ip link add "$WIRE" mtu "$WIRE_MTU" type veth peer name "$FAR" mtu "$WIRE_MTU" &&
  ip link set "$FAR" netns "$FAR_NS" && ip link set "$WIRE" up &&
  ip -n "$FAR_NS" addr add 10.52.0.200/24 dev "$FAR" && ip -n "$FAR_NS" link set "$FAR" up &&
  ip -n "$FAR_NS" link set lo up; }; then
  fail "cannot make the wire"
  exit 1
fi

sandbox_link() { # sandbox_link CONTAINER: `ip -d link show eth0` inside its namespace
  nsenter --net="$("$DOCKER" inspect -f '{{.NetworkSettings.SandboxKey}}' "$1")" ip -d link show eth0 2>&1
}
mv_net=(-d wharf --ipam-driver wharf -o mode=macvlan -o "parent=$WIRE")

if check "network create -o mode=macvlan -o parent=$WIRE" dk_net_create e2e-lan "${mv_net[@]}" \
  --subnet 10.52.0.0/24 --gateway 10.52.0.1 &&
  check "run m1" dk_run e2e-m1 --net e2e-lan "$IMAGE" sleep 1d &&
  check "run m2" dk_run e2e-m2 --net e2e-lan --ip 10.52.0.9 "$IMAGE" sleep 1d; then
  m1=$(container_ip e2e-m1 e2e-lan)
  check_ping "m1 pings m2" e2e-m1 10.52.0.9
  check_ping "m2 pings m1" e2e-m2 "$m1"
  check_ping "m1 pings the host at the far end of the wire" e2e-m1 10.52.0.200
  if retry 10 ip netns exec "$FAR_NS" ping -c1 -W1 10.52.0.9; then
    pass "the far host pings m2"
  else
    fail "the far host cannot ping m2"
  fi
  check_match "m1's eth0 is a macvlan in bridge mode" 'macvlan mode bridge' "$(sandbox_link e2e-m1)"
  check_eq "m1's MTU is the parent's" "$WIRE_MTU" "$("$DOCKER" exec e2e-m1 cat /sys/class/net/eth0/mtu 2>&1)"
  check_match "Join gave the IPAM gateway" '^10\.52\.0\.1$' "$(container_gateway e2e-m1 e2e-lan)"
  check_out_no_match "no host route for macvlan containers" '10\.52\.' wharf_routes
fi

# Every mode reaches the kernel as asked (one network each; passthru gets its own parent).
for mode in private vepa; do
  n=e2e-mv-$mode
  if check "network create macvlan_mode=$mode" dk_net_create "$n" "${mv_net[@]}" -o "macvlan_mode=$mode" \
    --subnet "10.55.$([[ $mode == private ]] && echo 1 || echo 2).0/24" &&
    check "run a container on $n" dk_run "$n-c" --net "$n" "$IMAGE" sleep 1d; then
    check_match "its eth0 is a macvlan in $mode mode" "macvlan mode $mode" "$(sandbox_link "$n-c")"
  fi
done

# host_shim=true: the host reaches its own macvlan containers (a parent cannot) through a
# wharf-owned sibling link with an address from IPAM and a route per container.
if check "network create -o host_shim=true on the same parent" dk_net_create e2e-shim "${mv_net[@]}" \
  -o host_shim=true --subnet 10.57.0.0/24 &&
  check "run s1" dk_run e2e-s1 --net e2e-shim --ip 10.57.0.7 "$IMAGE" sleep 1d; then
  shim=$(ip -o link show | grep -E 'alias wharf:shim:' | awk -F': ' '{print $2}' | sed 's/@.*//')
  check_match "the shim is a wharf-owned macvlan link on $WIRE" "^ws[0-9a-f]{10}$" "$shim"
  check_match "it has the address after the gateway" '10\.57\.0\.2/32' "$(ip -4 addr show dev "$shim" 2>&1)"
  check_out_match "a route to s1 through it, from its address" \
    "10\.57\.0\.7 dev $shim .*src 10\.57\.0\.2" wharf_routes
  check_host_ping "the host pings s1 through the shim" 10.57.0.7
  "$DOCKER" rm -f e2e-s1 >/dev/null 2>&1
  check_out_no_match "s1's route goes with it" '10\.57\.0\.7' wharf_routes
  "$DOCKER" network rm e2e-shim >/dev/null 2>&1
  check_out_no_match "the shim goes with the network" 'alias wharf:shim:' ip -o link show
fi
bad_shim=(-o macvlan_mode=private -o host_shim=true --subnet 10.56.5.0/24)

# Bad input: each a clear error, and nothing left in wharf.
bad() {
  local what=$1 re=$2 name=$3
  shift 3
  track_network "$name"
  check_fails "$what fails with a clear message" "$re" "$DOCKER" network create "$@" "$name"
}
bad "a missing parent" 'parent nope0 does not exist' e2e-mv-nope -d wharf --ipam-driver wharf \
  -o mode=macvlan -o parent=nope0 --subnet 10.56.1.0/24
bad "an MTU above the parent's" "9000 is larger than the MTU of parent $WIRE \\($WIRE_MTU\\)" e2e-mv-big \
  "${mv_net[@]}" -o mtu=9000 --subnet 10.56.2.0/24
bad "passthru on a parent other networks use" 'passthru parent cannot be shared' e2e-mv-pass \
  "${mv_net[@]}" -o macvlan_mode=passthru --subnet 10.56.3.0/24
bad "an unknown macvlan_mode" 'option macvlan_mode' e2e-mv-mode "${mv_net[@]}" -o macvlan_mode=nope \
  --subnet 10.56.4.0/24
bad "a shim on a private network" 'host_shim: not possible with macvlan private' e2e-mv-shim \
  "${mv_net[@]}" "${bad_shim[@]}"
check_out_no_match "no pool of the failed creates is left in wharf status" '10\.56\.' wharf_status --json

"$DOCKER" rm -f e2e-m1 e2e-m2 e2e-mv-private-c e2e-mv-vepa-c >/dev/null 2>&1
for n in e2e-lan e2e-mv-private e2e-mv-vepa; do "$DOCKER" network rm "$n" >/dev/null 2>&1; done
check_eq "no wharf link left after removing everything" "" "$(wharf_links || echo "cannot list links")"
check_out_match "wharf status shows no networks" 'no networks' wharf_status
check_kernel_unchanged "nothing of wharf's is left in the kernel while wharf still runs"
e2e_end
