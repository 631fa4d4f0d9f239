#!/usr/bin/env bash
# Parallel load: 50 `docker run -d` released at the same moment on one wharf network all
# start, get 50 distinct addresses (in Docker's view and in the kernel's), and reach each
# other (a seeded sample of pairs, both directions); then 50 `docker rm -f` at once leave no
# link, route or state entry behind. The same 50 on Docker's bridge, in the same run, give the
# wall times a comparison (INFO lines; bench/parallel-run.sh measures them over rounds).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin t_parallel

N=${E2E_PARALLEL:-50}
SEED=${E2E_SEED:-$RANDOM}
info "seed $SEED (replay: E2E_SEED=$SEED), $N containers"
RANDOM=$SEED
check "network create -d wharf 10.48.0.0/24" \
  dk_net_create e2e-par -d wharf --ipam-driver wharf --subnet 10.48.0.0/24 || exit 1
check "network create -d bridge 10.49.0.0/24 (for the comparison)" \
  dk_net_create e2e-parb -d bridge --subnet 10.49.0.0/24 || exit 1
for ((i = 1; i <= N; i++)); do track_container "e2e-p$i"; track_container "e2e-b$i"; done

# released PREFIX NETWORK: N docker run -d at once; prints the wall time in ms, then the
# number of failed runs.
released() {
  local prefix=$1 network=$2 start fails=0 pids=() i
  start=$(date +%s%N)
  for ((i = 1; i <= N; i++)); do
    "$DOCKER" run -d --name "$prefix$i" --net "$network" "$IMAGE" sleep 1d >"$E2E_WORK/run.$prefix$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fails=$((fails + 1)); done
  echo "$((($(date +%s%N) - start) / 1000000)) $fails"
}
# removed PREFIX: N docker rm -f at once; prints the wall time in ms and the failures.
removed() {
  local prefix=$1 start fails=0 pids=() i
  start=$(date +%s%N)
  for ((i = 1; i <= N; i++)); do
    "$DOCKER" rm -f "$prefix$i" >/dev/null 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fails=$((fails + 1)); done
  echo "$((($(date +%s%N) - start) / 1000000)) $fails"
}

read -r ms_wharf failed < <(released e2e-p e2e-par)
check_eq "all $N docker run on the wharf network succeed" 0 "$failed" ||
  show "$(cat "$E2E_WORK"/run.e2e-p* | grep -v '^[0-9a-f]\{64\}$' | sort | uniq -c)"
read -r ms_bridge failed_bridge < <(released e2e-b e2e-parb)
check_eq "all $N docker run on the bridge network succeed" 0 "$failed_bridge"
info "$N parallel docker run: wharf ${ms_wharf} ms, bridge ${ms_bridge} ms"
running=$("$DOCKER" ps -q --filter name='^e2e-p[0-9]+$' | wc -l)
check_eq "$N wharf containers are running" "$N" "$running"

addresses=()
for ((i = 1; i <= N; i++)); do addresses[i]=$(container_ip "e2e-p$i" e2e-par); done
check_eq "Docker shows $N distinct addresses" "$N" \
  "$(printf '%s\n' "${addresses[@]}" | grep -c '^10\.48\.0\.[0-9]*$' | tr -d ' ')"
check_eq "no address twice (docker inspect)" "" "$(printf '%s\n' "${addresses[@]}" | sort | uniq -d)"
routes=$(ip -4 route show proto 87 | awk '$1 ~ /^10\.48\.0\./')
check_eq "the kernel has $N host routes in 10.48.0.0/24" "$N" "$(grep -c . <<<"$routes")"
check_eq "no route twice, no link twice (kernel)" "" \
  "$(awk '{print $1; print $3}' <<<"$routes" | sort | uniq -d)"
for ((i = 1; i <= N; i++)); do
  grep -q "^${addresses[i]} dev wh" <<<"$routes" || fail "no host route for e2e-p$i's ${addresses[i]}"
done
# A seeded sample of pairs, both directions.
for ((k = 0; k < 8; k++)); do
  x=$((RANDOM % N + 1)) y=$((RANDOM % N + 1))
  ((x == y)) && y=$((x % N + 1))
  check_ping "pair $k: p$x -> p$y" "e2e-p$x" "${addresses[y]}"
  check_ping "pair $k: p$y -> p$x" "e2e-p$y" "${addresses[x]}"
done

read -r rm_wharf rm_failed < <(removed e2e-p)
check_eq "all $N docker rm -f on the wharf network succeed" 0 "$rm_failed"
read -r rm_bridge _ < <(removed e2e-b)
info "$N parallel docker rm -f: wharf ${rm_wharf} ms, bridge ${rm_bridge} ms"
check_eq "no wharf host route is left" "" "$(ip -4 route show proto 87 | awk '$1 ~ /^10\.48\.0\./')"
check_out_no_match "no endpoint is left in wharf's state" 'endpoint ' wharf_status
# dockerd 20.10 can miscount a network's endpoints after many parallel removals ("has active
# endpoints" with none left); a dockerd the suite started is restarted, which recounts.
if ! "$DOCKER" network rm e2e-par >/dev/null 2>&1; then
  info "docker network rm e2e-par failed once (dockerd's endpoint count); restarting dockerd"
  dockerd_restart >/dev/null 2>&1
  check "docker network rm e2e-par after a dockerd restart" "$DOCKER" network rm e2e-par
fi
e2e_end
