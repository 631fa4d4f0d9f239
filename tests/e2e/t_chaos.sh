#!/usr/bin/env bash
# Chaos: CYCLES (default 200) seeded random steps of docker run / docker rm -f / network
# connect with extra addresses / disconnect, on two routed networks and a macvlan network,
# while wharf is killed with SIGKILL at random moments (during a step, after a random delay)
# and started again, and dockerd is restarted three times (when the suite started it). Then:
# no two containers share an address (docker inspect, and the kernel's routes), every running
# container answers the host at each of its addresses, `wharf status` lists exactly the
# endpoints Docker has; and once everything is removed, nothing of wharf's is left (the case's
# leftover check: links, routes, neighbours, nftables, iptables) and its state is empty.
# Prints its seed: E2E_SEED=N replays a run, E2E_CHAOS_CYCLES=N changes its length.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

WIRE=e2ecx0 FAR=e2ecx1
wire_cleanup() { ip link del "$WIRE" 2>/dev/null; }
e2e_begin t_chaos
e2e_at_exit wire_cleanup

CYCLES=${E2E_CHAOS_CYCLES:-200}
SEED=${E2E_SEED:-$RANDOM}
RANDOM=$SEED
info "seed $SEED, $CYCLES cycles (replay: E2E_SEED=$SEED E2E_CASES=t_chaos)"
if ! { ip link add "$WIRE" type veth peer name "$FAR" && ip link set "$WIRE" up && ip link set "$FAR" up; }; then
  fail "cannot make the macvlan wire"
  exit 1
fi
check "routed network r 10.50.0.0/24" dk_net_create e2e-r -d wharf --ipam-driver wharf --subnet 10.50.0.0/24 || exit 1
check "routed network r2 10.51.0.0/24" dk_net_create e2e-r2 -d wharf --ipam-driver wharf --subnet 10.51.0.0/24 || exit 1
check "macvlan network m 10.53.0.0/24 with a host shim" dk_net_create e2e-m -d wharf --ipam-driver wharf \
  -o mode=macvlan -o parent="$WIRE" -o host_shim=true --subnet 10.53.0.0/24 || exit 1

kills=0 dockerd_restarts=0 refused=0 steps=0 next=0
live() { "$DOCKER" ps -a --format '{{.Names}}' --filter name='^e2e-x[0-9]+$'; }
pick() { # pick: a random one of the case's containers, if any
  local all
  mapfile -t all < <(live)
  ((${#all[@]})) && echo "${all[RANDOM % ${#all[@]}]}"
}
# step: one random docker operation (chosen here, in the case's shell, so that the seed
# decides it; run in the background by the caller). Prints the command's output.
plan_step() {
  local roll=$((RANDOM % 10)) restart="" victim
  ((RANDOM % 3 == 0)) && restart="--restart always"
  if (($(live | wc -l) >= 14)); then roll=9; fi
  case $roll in
    0 | 1 | 2 | 3 | 4 | 5 | 6)
      name=e2e-x$next
      next=$((next + 1))
      track_container "$name"
      net=e2e-r
      ((roll >= 3 && roll <= 4)) && net=e2e-m
      cmd=("$DOCKER" run -d --name "$name" $restart --net "$net" "$IMAGE" sleep 1d)
      # An extra address drawn from a small range, so that some collide and are refused.
      extra=""
      ((roll >= 5)) && extra="10.51.0.$((200 + RANDOM % 40))"
      ;;
    7)
      victim=$(pick) || victim=none
      cmd=("$DOCKER" network disconnect e2e-r2 "$victim") extra=""
      ;;
    *)
      victim=$(pick) || victim=none
      cmd=("$DOCKER" rm -f "$victim") extra=""
      ;;
  esac
}
run_step() {
  "${cmd[@]}" || return 1
  [[ -z $extra ]] || "$DOCKER" network connect --driver-opt "wharf.addresses=$extra" e2e-r2 "$name"
}

for ((cycle = 1; cycle <= CYCLES; cycle++)); do
  plan_step
  run_step >>"$E2E_WORK/steps.log" 2>&1 &
  op=$!
  if ((RANDOM % 4 == 0)); then
    sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
    wharf_kill KILL
    kills=$((kills + 1))
    wharf_start || { fail "wharf did not start again after kill $kills (cycle $cycle)"; break; }
  fi
  wait "$op" || { refused=$((refused + 1)); echo "  (cycle $cycle failed: ${cmd[*]} $extra)" >>"$E2E_WORK/steps.log"; }
  steps=$((steps + 1))
  if ((cycle % (CYCLES / 4 + 1) == 0)); then
    if dockerd_restart >/dev/null 2>&1; then
      dockerd_restarts=$((dockerd_restarts + 1))
    elif (($? == 2)); then
      skip "dockerd is not this suite's: not restarting it (cycle $cycle)"
    else
      fail "dockerd did not come back after a restart (cycle $cycle)"
      break
    fi
  fi
done
info "failed steps, last lines: $(grep -v '^[0-9a-f]\{64\}$' "$E2E_WORK/steps.log" | tail -n 6 | tr '\n' '|')"
info "$steps steps, $kills SIGKILLs of wharf, $dockerd_restarts dockerd restarts, $refused steps failed or refused, seed $SEED"
check "wharf answers after the chaos" plugin_activated
# Containers with --restart always come back after a dockerd restart: let them settle.
retry 30 bash -c "! $DOCKER ps -a --filter name='^e2e-x' --format '{{.Status}}' | grep -q '^Restarting'"

# Addresses: per running container and network, from Docker.
declare -A seen=()
dupes="" addresses=()
while read -r name; do
  for net in e2e-r e2e-r2 e2e-m; do
    a=$(container_ip "$name" "$net")
    [[ -n $a ]] || continue
    [[ -n ${seen[$a]:-} ]] && dupes+="$a: ${seen[$a]} and $name; "
    seen[$a]=$name
    addresses+=("$a")
  done
done < <("$DOCKER" ps --format '{{.Names}}' --filter name='^e2e-x[0-9]+$')
check_eq "no two running containers share an address (docker inspect)" "" "$dupes"
check_eq "no address has two host routes (kernel)" "" \
  "$(ip -4 route show proto 87 | awk '{print $1}' | sort | uniq -d)"
info "${#addresses[@]} addresses of running containers"
for a in "${addresses[@]}"; do check_host_ping "reachable after the chaos" "$a"; done
# Extra addresses wharf gave, from its own status, reachable too.
status_json=$(wharf_status --json) || fail "wharf status --json failed"
for a in $(jq -r '.networks[].endpoints[].addresses[]' <<<"$status_json" 2>/dev/null | sed 's|[/ ].*||' | grep '^10\.51\.0\.2'); do
  check_host_ping "extra address reachable after the chaos" "$a"
done
# wharf's endpoints are Docker's endpoints, network by network.
for net in e2e-r e2e-r2 e2e-m; do
  id=$(network_id "$net")
  docker_eps=$("$DOCKER" network inspect -f '{{range .Containers}}{{.EndpointID}} {{end}}' "$net" | tr ' ' '\n' | grep . | sort)
  wharf_eps=$(jq -r --arg id "$id" '.networks[] | select(.id == $id) | .endpoints[].id' <<<"$status_json" | sort)
  check_eq "wharf status and Docker list the same endpoints on $net" "$docker_eps" "$wharf_eps"
done

# Everything goes; the case's cleanup then compares the kernel with its baseline.
mapfile -t all < <(live)
((${#all[@]})) && "$DOCKER" rm -f "${all[@]}" >/dev/null
for net in e2e-m e2e-r2 e2e-r; do
  if ! "$DOCKER" network rm "$net" >/dev/null 2>&1; then
    # dockerd 20.10 can miscount a network's endpoints after parallel removals; a restart
    # recounts (t_parallel has the details).
    dockerd_restart >/dev/null 2>&1
    check "docker network rm $net (after a dockerd restart)" "$DOCKER" network rm "$net"
  fi
done
check_eq "wharf's state is empty: no network" "0" "$(wharf_status --json | jq '.networks | length')"
check_eq "wharf's state is empty: no pool" "0" "$(wharf_status --json | jq '.pools | length')"
e2e_end
