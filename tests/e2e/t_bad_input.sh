#!/usr/bin/env bash
# Bad requests straight on the plugin socket, as a buggy or hostile client would send
# them: each answers HTTP 500 with a JSON Err saying what is wrong, and wharf stays
# usable and consistent. Then the docker-level case of a static address already in use.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_bad_input

hex64() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

# call METHOD BODY: sets CODE and BODY (wharf's answer).
call() {
  local out
  out=$(plugin_call "$1" "${2:-}")
  CODE=${out%% *}
  BODY=${out#* }
}

# expect_err DESC REGEX METHOD BODY: HTTP 500 with {"Err": "..."} matching REGEX.
expect_err() {
  local desc=$1 re=$2 err
  call "$3" "$4"
  err=$(jq -r '.Err // empty' 2>/dev/null <<<"$BODY")
  if [[ $CODE != 500 ]]; then
    fail "$desc: expected HTTP 500, got $CODE $BODY"
  elif [[ -z $err ]]; then
    fail "$desc: HTTP 500 but no JSON Err: $BODY"
  elif ! grep -Eiq -- "$re" <<<"$err"; then
    fail "$desc: Err does not say what is wrong (want /$re/): $err"
  else
    pass "$desc (Err: $err)"
  fi
}

# expect_ok DESC METHOD BODY: HTTP 200; prints nothing, leaves BODY.
expect_ok() {
  call "$2" "${3:-}"
  if [[ $CODE == 200 ]]; then pass "$1"; return 0; fi
  fail "$1: expected HTTP 200, got $CODE $BODY"
  return 1
}

# 1. Malformed JSON.
expect_err "malformed JSON to RequestPool" 'malformed JSON in the /IpamDriver\.RequestPool request: EOF' \
  IpamDriver.RequestPool '{"AddressSpace":"local","Pool":'
expect_err "non-JSON body to CreateNetwork" 'malformed JSON in the /NetworkDriver\.CreateNetwork request' \
  NetworkDriver.CreateNetwork 'this is not json'

# 2. Invalid CIDRs.
expect_err "RequestPool with prefix length /33" 'invalid pool "10\.46\.0\.0/33": prefix length 33 is longer than 32' \
  IpamDriver.RequestPool '{"AddressSpace":"local","Pool":"10.46.0.0/33","SubPool":"","Options":{},"V6":false}'
expect_err "RequestPool with a pool that is not a CIDR" 'invalid pool "not-a-cidr": expected a CIDR such as' \
  IpamDriver.RequestPool '{"AddressSpace":"local","Pool":"not-a-cidr","SubPool":"","Options":{},"V6":false}'

# A good pool, gateway and network to aim the next calls at.
pool_body='{"AddressSpace":"local","Pool":"10.46.20.0/24","SubPool":"","Options":{},"V6":false}'
expect_ok "RequestPool 10.46.20.0/24" IpamDriver.RequestPool "$pool_body" || exit 1
pool=$(jq -r .PoolID <<<"$BODY")
expect_ok "RequestAddress gateway" IpamDriver.RequestAddress \
  "{\"PoolID\":\"$pool\",\"Address\":\"\",\"Options\":{\"RequestAddressType\":\"com.docker.network.gateway\"}}" || exit 1
gw=$(jq -r .Address <<<"$BODY")
net=$(hex64)
expect_ok "CreateNetwork on that pool" NetworkDriver.CreateNetwork \
  "{\"NetworkID\":\"$net\",\"Options\":{\"com.docker.network.enable_ipv6\":false,\"com.docker.network.generic\":{}},\"IPv4Data\":[{\"AddressSpace\":\"local\",\"Gateway\":\"$gw\",\"Pool\":\"10.46.20.0/24\"}],\"IPv6Data\":[]}"

# What the good network made (wharf's firewall rules); the refused calls below add nothing.
kernel_mark good-network || fail "cannot list the kernel's objects"

# 3. Unknown network and endpoint IDs.
ghost_net=$(hex64)
ghost_ep=$(hex64)
expect_err "CreateEndpoint on an unknown NetworkID" "network ${ghost_net:0:12} is not known to wharf" NetworkDriver.CreateEndpoint \
  "{\"NetworkID\":\"$ghost_net\",\"EndpointID\":\"$ghost_ep\",\"Interface\":{\"Address\":\"10.46.20.9/24\",\"AddressIPv6\":\"\",\"MacAddress\":\"\"},\"Options\":{}}"
expect_err "Join on an unknown NetworkID" "network ${ghost_net:0:12} is not known to wharf" NetworkDriver.Join \
  "{\"NetworkID\":\"$ghost_net\",\"EndpointID\":\"$ghost_ep\",\"SandboxKey\":\"/var/run/docker/netns/none\",\"Options\":{}}"
expect_err "Join with an unknown EndpointID" "endpoint ${ghost_ep:0:12} is not known to wharf on network ${net:0:12}" NetworkDriver.Join \
  "{\"NetworkID\":\"$net\",\"EndpointID\":\"$ghost_ep\",\"SandboxKey\":\"/var/run/docker/netns/none\",\"Options\":{}}"
expect_err "EndpointOperInfo with an unknown EndpointID" "endpoint ${ghost_ep:0:12} is not known to wharf on network ${net:0:12}" NetworkDriver.EndpointOperInfo \
  "{\"NetworkID\":\"$net\",\"EndpointID\":\"$ghost_ep\"}"
expect_err "RequestAddress on an unknown PoolID" 'no pool no-such-pool is known to wharf' IpamDriver.RequestAddress \
  '{"PoolID":"no-such-pool","Address":"","Options":{}}'

# 4. A bad network option must not leave a half-made network behind.
bad_net=$(hex64)
expect_err "CreateNetwork with mode=nope" 'option mode: "nope" is not a wharf mode' NetworkDriver.CreateNetwork \
  "{\"NetworkID\":\"$bad_net\",\"Options\":{\"com.docker.network.enable_ipv6\":false,\"com.docker.network.generic\":{\"mode\":\"nope\"}},\"IPv4Data\":[{\"AddressSpace\":\"local\",\"Gateway\":\"$gw\",\"Pool\":\"10.46.20.0/24\"}],\"IPv6Data\":[]}"

# 5. Duplicate static address.
expect_ok "RequestAddress 10.46.20.5" IpamDriver.RequestAddress "{\"PoolID\":\"$pool\",\"Address\":\"10.46.20.5\",\"Options\":null}"
expect_err "RequestAddress 10.46.20.5 again" 'address 10\.46\.20\.5 is already in use in pool 10\.46\.20\.0/24' IpamDriver.RequestAddress \
  "{\"PoolID\":\"$pool\",\"Address\":\"10.46.20.5\",\"Options\":null}"
expect_err "RequestAddress outside the pool" 'address 10\.47\.0\.5 is outside pool 10\.46\.20\.0/24' IpamDriver.RequestAddress \
  "{\"PoolID\":\"$pool\",\"Address\":\"10.47.0.5\",\"Options\":null}"

# 6. Overlapping pool.
expect_err "RequestPool 10.46.20.0/25 overlapping 10.46.20.0/24" 'pool 10\.46\.20\.0/25 overlaps wharf pool 10\.46\.20\.0/24' IpamDriver.RequestPool \
  '{"AddressSpace":"local","Pool":"10.46.20.0/25","SubPool":"","Options":{},"V6":false}'

# 7. An exhausted /30: two usable addresses, then a clear error.
if expect_ok "RequestPool 10.46.30.0/30" IpamDriver.RequestPool \
  '{"AddressSpace":"local","Pool":"10.46.30.0/30","SubPool":"","Options":{},"V6":false}'; then
  small=$(jq -r .PoolID <<<"$BODY")
  got=()
  for _ in 1 2 3 4 5 6; do
    call IpamDriver.RequestAddress "{\"PoolID\":\"$small\",\"Address\":\"\",\"Options\":null}"
    [[ $CODE == 200 ]] || break
    got+=("$(jq -r .Address <<<"$BODY")")
  done
  err=$(jq -r '.Err // empty' 2>/dev/null <<<"$BODY")
  check_eq "a /30 hands out its two host addresses" "10.46.30.1/30 10.46.30.2/30" "${got[*]}"
  if [[ $CODE == 500 ]] && grep -Eq 'pool 10\.46\.30\.0/30 is exhausted: all 2 usable addresses are in use' <<<"$err"; then
    pass "RequestAddress on the exhausted /30 (Err: $err)"
  else
    fail "RequestAddress on the exhausted /30: expected 500 saying the pool is exhausted, got $CODE $BODY"
  fi
  for a in "${got[@]}"; do
    expect_ok "ReleaseAddress ${a%/*}" IpamDriver.ReleaseAddress "{\"PoolID\":\"$small\",\"Address\":\"${a%/*}\"}"
  done
  expect_ok "ReleasePool of the /30" IpamDriver.ReleasePool "{\"PoolID\":\"$small\"}"
fi

# 8. Still alive and consistent.
check_match "/Plugin.Activate still answers" '^200 .*NetworkDriver' "$(plugin_call Plugin.Activate)"
check_out_match "wharf status lists the good network" "$net" wharf_status --json
check_out_no_match "wharf status has no trace of the refused networks" "$bad_net|$ghost_net" wharf_status --json
check_out_no_match "wharf status has no trace of the refused pools" '10\.46\.20\.0/25|10\.46\.0\.0/33|not-a-cidr' wharf_status --json
check_kernel_unchanged "the refused calls made no link, route, neighbour or firewall rule" good-network

expect_ok "DeleteNetwork" NetworkDriver.DeleteNetwork "{\"NetworkID\":\"$net\"}"
expect_ok "ReleaseAddress 10.46.20.5" IpamDriver.ReleaseAddress "{\"PoolID\":\"$pool\",\"Address\":\"10.46.20.5\"}"
expect_ok "ReleaseAddress gateway" IpamDriver.ReleaseAddress "{\"PoolID\":\"$pool\",\"Address\":\"${gw%/*}\"}"
expect_ok "ReleasePool" IpamDriver.ReleasePool "{\"PoolID\":\"$pool\"}"
check_out_no_match "wharf status is empty again" "$net|10\.46\.20\.|10\.46\.30\." wharf_status --json

# 9. Through docker: a static address already in use.
if check "network create mine" dk_net_create e2e-mine -d wharf --ipam-driver wharf --subnet 10.46.0.0/16 &&
  check "run x1 --ip 10.46.1.7" dk_run e2e-x1 --net e2e-mine --ip 10.46.1.7 "$IMAGE" sleep 1d; then
  track_container e2e-x2
  check_fails "docker run --ip 10.46.1.7 again fails clearly" 'address 10\.46\.1\.7 is already in use in pool 10\.46\.0\.0/16' \
    "$DOCKER" run -d --name e2e-x2 --net e2e-mine --ip 10.46.1.7 "$IMAGE" sleep 1d
  check "run x3" dk_run e2e-x3 --net e2e-mine "$IMAGE" sleep 1d
  check_ping "x1 still reachable at 10.46.1.7 after the refused duplicate" e2e-x3 10.46.1.7
  check_eq "exactly one host route for 10.46.1.7" 1 "$(ip route show proto 87 | grep -c '^10\.46\.1\.7 ')"
fi
e2e_end
