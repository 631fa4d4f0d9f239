#!/usr/bin/env bash
# Extra addresses per container with the endpoint option wharf.addresses.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_extra_addresses

net=e2e-mine
check "network create mine 10.46.0.0/16" dk_net_create "$net" -d wharf --ipam-driver wharf --subnet 10.46.0.0/16 || exit 1
check "run a on mine" dk_run e2e-a --net "$net" "$IMAGE" sleep 1d

# connect_with_opts NAME OPT: a container created on --net none, moved to mine with the
# driver option (Docker refuses to connect a running --net none container elsewhere).
connect_with_opts() {
  local name=$1 opt=$2
  dk_create "$name" --net none "$IMAGE" sleep 1d &&
    "$DOCKER" network disconnect none "$name" &&
    "$DOCKER" network connect --driver-opt "$opt" "$net" "$name" &&
    "$DOCKER" start "$name" >/dev/null
}

# check_extras NAME ADDR...: each ADDR is on NAME's interface, reachable from a and from the
# host, routed by the host; NAME reaches a from it (a's reply comes back to ADDR).
check_extras() {
  local name=$1 addrs routes x ip_a
  shift
  ip_a=$(container_ip e2e-a "$net")
  addrs=$("$DOCKER" exec "$name" ip addr 2>&1)
  routes=$(wharf_routes) || fail "cannot list the host's routes"
  for x in "$@"; do
    check_match "$x visible inside $name" "inet ${x//./\\.}/" "$addrs"
    check_ping "a pings $name's extra address $x" e2e-a "$x"
    check_host_ping "the host pings $name's extra address $x" "$x"
    check_ping_from "$name reaches a from its extra address $x (the reply is routed back to it)" "$name" "$x" "$ip_a"
    check_match "host route for $x (proto 87)" "^${x//./\\.} dev wh" "$routes"
  done
}

if check "connect c with --driver-opt 'wharf.addresses=10.46.1.8;10.46.1.9'" \
  connect_with_opts e2e-c 'wharf.addresses=10.46.1.8;10.46.1.9'; then
  check_extras e2e-c 10.46.1.8 10.46.1.9
  check_ping "a pings c's primary address" e2e-a "$(container_ip e2e-c "$net")"
fi

check "docker rm -f c" "$DOCKER" rm -f e2e-c
check_out_no_match "no host route for 10.46.1.8/10.46.1.9 after rm" '^10\.46\.1\.(8|9) ' wharf_routes
check_out_no_match "wharf status no longer lists 10.46.1.8/10.46.1.9" '10\.46\.1\.(8|9)([^0-9]|$)' wharf_status

# The quoted comma form, reusing the released addresses.
if check "addresses reusable: connect d with --driver-opt '\"wharf.addresses=10.46.1.8,10.46.1.9\"'" \
  connect_with_opts e2e-d '"wharf.addresses=10.46.1.8,10.46.1.9"'; then
  check_extras e2e-d 10.46.1.8 10.46.1.9
fi
check "docker rm -f d" "$DOCKER" rm -f e2e-d

# A running container (on another network first, as Docker requires) connected to mine.
if check "run r on a side network" dk_net_create e2e-side -d wharf --ipam-driver wharf --subnet 10.48.9.0/24 &&
  check "run r" dk_run e2e-r --net e2e-side "$IMAGE" sleep 1d &&
  check "connect running r with --driver-opt wharf.addresses=10.46.1.11" \
    "$DOCKER" network connect --driver-opt wharf.addresses=10.46.1.11 "$net" e2e-r; then
  check_extras e2e-r 10.46.1.11
fi

# An extra address already taken, or outside the network's subnet, must be refused, and
# nothing of the refused container stays.
taken=$(container_ip e2e-a "$net")
check_fails "an extra address already used by a is refused" \
  "wharf.addresses: address ${taken//./\\.} is in use by endpoint [0-9a-f]{12} on network [0-9a-f]{12}" \
  connect_with_opts e2e-e "wharf.addresses=$taken"
check_fails "an extra address outside the network is refused" \
  '10\.99\.0\.1 is outside the network.s subnets \(10\.46\.0\.0/16\)' \
  connect_with_opts e2e-e2 "wharf.addresses=10.99.0.1"
"$DOCKER" rm -f e2e-e e2e-e2 >/dev/null 2>&1
check_out_no_match "the refused containers hold no address in wharf" '10\.99\.0\.1' wharf_status

# docker run --network name=...,driver-opt=... (the --network flag's long form). Docker's CLI
# has it since 20.10 (the tested clients are 20.10 and newer); an older client says so in
# its own words, which is the only failure tolerated here.
client=$("$DOCKER" version -f '{{.Client.Version}}' 2>/dev/null)
out=$("$DOCKER" run -d --name e2e-f --network "name=$net,driver-opt=wharf.addresses=10.46.1.10" "$IMAGE" sleep 1d 2>&1) && rc=0 || rc=$?
track_container e2e-f
if ((rc != 0)) && [[ ${client%%.*} =~ ^[0-9]+$ ]] && ((${client%%.*} < 20)); then
  skip "docker run --network name=...,driver-opt=...: client $client predates the form ($(head -n 1 <<<"$out"))"
elif ((rc != 0)); then
  fail "docker run --network name=$net,driver-opt=wharf.addresses=10.46.1.10 failed (client $client)"
  show "$out"
else
  check_match "docker run --network ...,driver-opt=: 10.46.1.10 inside the container (client $client)" \
    'inet 10\.46\.1\.10/' "$("$DOCKER" exec e2e-f ip addr 2>&1)"
  check_ping "a pings the extra address given at docker run" e2e-a 10.46.1.10
fi
e2e_end
