#!/usr/bin/env bash
# wharf and dockerd restarts: connectivity survives, state is recovered from the state
# dir, a lost host route is put back, and no address is handed out twice.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_restart

net=e2e-mine
check "network create mine 10.46.0.0/16" dk_net_create "$net" -d wharf --ipam-driver wharf --subnet 10.46.0.0/16 || exit 1
check "run a --restart always --ip 10.46.1.7" dk_run e2e-a --restart always --net "$net" --ip 10.46.1.7 "$IMAGE" sleep 1d
check "run b --restart always" dk_run e2e-b --restart always --net "$net" "$IMAGE" sleep 1d
ip_a=$(container_ip e2e-a "$net")
ip_b=$(container_ip e2e-b "$net")
gw=$(container_gateway e2e-a "$net")
check_eq "a has its static address" 10.46.1.7 "$ip_a"
check_match "b has an address" '^10\.46\.[0-9]+\.[0-9]+$' "$ip_b"
check_eq "the gateway is the pool's first address" 10.46.0.1 "$gw"
check_ping "before restarts: a pings b" e2e-a "$ip_b"

# in_use: every address docker reports on the network, one per line.
in_use() {
  "$DOCKER" network inspect -f '{{range .Containers}}{{.IPv4Address}} {{end}}' "$net" | tr ' ' '\n' | sed 's|/.*||' | grep .
}

# check_new_address NAME: a new container gets an address that nobody else holds.
check_new_address() {
  local name=$1 used new
  used=$(in_use)
  if ! grep -qxF -- "$ip_a" <<<"$used"; then
    fail "cannot read the addresses in use on $net (docker network inspect): '$used'"
    return
  fi
  if ! check "run $name after the restart" dk_run "$name" --net "$net" "$IMAGE" sleep 1d; then return; fi
  new=$(container_ip "$name" "$net")
  if [[ -z $new ]] || grep -qxF -- "$new" <<<"$used" || [[ $new == "$gw" ]]; then
    fail "$name got address '$new', which is already in use (in use: $(tr '\n' ' ' <<<"$used"), gateway $gw)"
  else
    pass "$name got a fresh address $new (in use: $(tr '\n' ' ' <<<"$used"))"
  fi
  check_ping "$name pings a" "$name" "$ip_a"
}

# 1. kill -9 wharf and start it again on the same state dir.
wharf_kill KILL
wharf_start || exit 1
check_ping "after kill -9 + restart of wharf: a pings b" e2e-a "$ip_b"
check_ping "after kill -9 + restart of wharf: b pings a" e2e-b "$ip_a"
status=$(wharf_status 2>&1)
check_has "wharf status shows a ($ip_a) after the restart" "$ip_a" "$status"
check_has "wharf status shows b ($ip_b) after the restart" "$ip_b" "$status"
check_new_address e2e-c

# 2. A host route deleted while wharf is down comes back when wharf starts.
wharf_kill KILL
status=$(wharf_status 2>&1)
check_has "wharf status while wharf is down (state file) shows a" "$ip_a" "$status"
check_has "wharf status while wharf is down (state file) shows b" "$ip_b" "$status"
check "delete a's host route by hand while wharf is down" ip route del 10.46.1.7/32
# Without its /32 the address matches only the default route: the traffic guard must keep
# packets for it on this machine (tests/lib/guard.sh).
check_fails "without its host route a is unreachable, not sent to the default route" \
  'unreachable' ip route get 10.46.1.7
wharf_start || exit 1
if retry 10 sh -c 'ip route show proto 87 | grep -q "^10\.46\.1\.7 dev wh"'; then
  pass "wharf restored the host route 10.46.1.7/32"
else
  fail "host route 10.46.1.7/32 not restored within 10 s of wharf's start"
  show "$(ip route show proto 87)"
fi
check_ping "after the route repair: b pings a" e2e-b "$ip_a"

# 3. Restart dockerd: --restart always containers come back and reach each other. Only a
# dockerd the suite started is restarted.
dockerd_restart && rc=0 || rc=$?
if ((rc == 2)); then
  skip "the running dockerd is not the suite's own: not restarting it (run with no dockerd running to test this)"
  e2e_end
elif ((rc != 0)); then
  fail "dockerd did not come back after a restart"
  exit 1
fi
pass "dockerd restarted"
running() { [[ $("$DOCKER" inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
for c in e2e-a e2e-b; do
  if retry 60 running "$c"; then pass "$c is running again after the dockerd restart"; else
    fail "$c not running 60 s after the dockerd restart: $("$DOCKER" inspect -f '{{.State.Status}} {{.State.Error}}' "$c" 2>&1)"
  fi
done
ip_a=$(container_ip e2e-a "$net")
ip_b=$(container_ip e2e-b "$net")
check_eq "a kept its static address" 10.46.1.7 "$ip_a"
check_ping "after the dockerd restart: a pings b" e2e-a "$ip_b"
check_ping "after the dockerd restart: b pings a" e2e-b "$ip_a"
check_ping "after the dockerd restart: a pings the gateway" e2e-a "$gw"
check_new_address e2e-d
e2e_end
