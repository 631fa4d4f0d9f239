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

# check_extras NAME ADDR...: each ADDR is on NAME's interface, reachable from a, routed.
check_extras() {
  local name=$1 addrs routes x
  shift
  addrs=$("$DOCKER" exec "$name" ip addr 2>&1)
  routes=$(ip route show proto 87)
  for x in "$@"; do
    check_match "$x visible inside $name" "inet ${x//./\\.}/" "$addrs"
    check_ping "a pings $name's extra address $x" e2e-a "$x"
    check_match "host route for $x (proto 87)" "^${x//./\\.} dev wh" "$routes"
  done
}

if check "connect c with --driver-opt 'wharf.addresses=10.46.1.8;10.46.1.9'" \
  connect_with_opts e2e-c 'wharf.addresses=10.46.1.8;10.46.1.9'; then
  check_extras e2e-c 10.46.1.8 10.46.1.9
  check_ping "a pings c's primary address" e2e-a "$(container_ip e2e-c "$net")"
  check_ping "c reaches a from its extra addresses too (replies route back)" e2e-c "$(container_ip e2e-a "$net")"
fi

check "docker rm -f c" "$DOCKER" rm -f e2e-c
routes=$(ip route show proto 87)
check_no_match "no host route for 10.46.1.8/10.46.1.9 after rm" '^10\.46\.1\.(8|9) ' "$routes"
status=$(wharf_status 2>&1)
check_no_match "wharf status no longer lists 10.46.1.8/10.46.1.9" '10\.46\.1\.(8|9)([^0-9]|$)' "$status"

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

# An extra address outside the network's subnet or already taken must be refused.
check_fails "an extra address already used by a is refused" 'address|in use|already|10\.46' \
  connect_with_opts e2e-e "wharf.addresses=$(container_ip e2e-a "$net")"
"$DOCKER" rm -f e2e-e >/dev/null 2>&1

# docker run --network name=...,driver-opt=... (advanced syntax, newer clients only).
out=$("$DOCKER" run -d --name e2e-f --network "name=$net,driver-opt=wharf.addresses=10.46.1.10" "$IMAGE" sleep 1d 2>&1) && rc=0 || rc=$?
track_container e2e-f
if ((rc != 0)); then
  skip "docker run --network name=...,driver-opt=... unsupported by $($DOCKER version -f '{{.Client.Version}}' 2>/dev/null) client: $(head -n 1 <<<"$out")"
  # The newer client (if installed) may speak the syntax and negotiate down to this daemon.
  newer=/usr/local/bin/docker
  if [[ -x $newer && $newer != "$DOCKER" ]]; then
    out=$("$newer" run -d --name e2e-g --network "name=$net,driver-opt=wharf.addresses=10.46.1.10" "$IMAGE" sleep 1d 2>&1) && rc=0 || rc=$?
    track_container e2e-g
    if ((rc == 0)); then
      if "$DOCKER" exec e2e-g ip addr 2>&1 | grep -q 'inet 10\.46\.1\.10/'; then
        pass "client $($newer version -f '{{.Client.Version}}' 2>/dev/null) with --network name=...,driver-opt=: 10.46.1.10 inside the container"
        check_ping "a pings the extra address given at docker run" e2e-a 10.46.1.10
      else
        skip "client $($newer version -f '{{.Client.Version}}' 2>/dev/null) accepted --network driver-opt but this daemon did not pass it (no 10.46.1.10 inside)"
      fi
    else
      skip "newer client $newer also refused: $(head -n 1 <<<"$out")"
    fi
  fi
else
  info "this docker client ($($DOCKER version -f '{{.Client.Version}}' 2>/dev/null)) supports docker run --network name=...,driver-opt=..."
  check_match "docker run --network ...,driver-opt=: 10.46.1.10 inside the container" 'inet 10\.46\.1\.10/' "$("$DOCKER" exec e2e-f ip addr 2>&1)"
fi
e2e_end
