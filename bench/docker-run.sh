#!/usr/bin/env bash
# Time `docker run --rm IMAGE true` side by side on:
#   wharf    a wharf routed network (wharf IPAM, 10.46.0.0/16)
#   wharf-mv a wharf macvlan network on the same parent as Docker's macvlan below
#   macvlan  Docker's built-in macvlan, parent = one end of a veth pair made here
#   bridge   Docker's built-in bridge (user-defined network, 10.44.0.0/24)
#   none     --net none, the floor
# Runs are interleaved (one of each per round) so drift hits all alike; prints the
# median of N runs each and the ratios. Usage: sudo bench/docker-run.sh [N]  (default 15)
# Uses WHARF_BIN (default target/release/wharf); starts dockerd and wharf if needed and
# removes everything it made.
set -uo pipefail
N=${1:-15}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/../tests/e2e/lib.sh"
E2E_CASE=bench

cleanup() {
  "$DOCKER" network rm bench-wharf bench-wharf-mv bench-macvlan bench-bridge >/dev/null 2>&1
  ip link del whbench0 2>/dev/null
  ((own_wharf)) && wharf_kill TERM
  [[ -n $WHARF_STATE ]] && rm -rf "$WHARF_STATE"
  ((DOCKERD_STARTED_HERE)) && dockerd_stop
  rm -rf "$E2E_WORK"
  guard_remove
}
own_wharf=0
trap cleanup EXIT
trap 'exit 130' INT TERM

guard_install || { echo "cannot keep test traffic on this machine (tests/lib/guard.sh)"; exit 1; }
dockerd_start || exit 1
image_build || exit 1
if ! plugin_activated; then
  wharf_start >/dev/null || { echo "cannot start wharf from $WHARF_BIN"; exit 1; }
  own_wharf=1
fi

ip link add whbench0 type veth peer name whbench1 || exit 1
ip link set whbench0 up && ip link set whbench1 up
"$DOCKER" network create -d wharf --ipam-driver wharf --subnet 10.46.0.0/16 bench-wharf >/dev/null || exit 1
"$DOCKER" network create -d wharf --ipam-driver wharf -o mode=macvlan -o parent=whbench0 \
  --subnet 10.45.0.0/24 bench-wharf-mv >/dev/null || exit 1
"$DOCKER" network create -d macvlan -o parent=whbench0 --subnet 198.51.100.0/24 bench-macvlan >/dev/null || exit 1
"$DOCKER" network create -d bridge --subnet 10.44.0.0/24 bench-bridge >/dev/null || exit 1

kinds=(wharf wharf-mv macvlan bridge none)
declare -A net=([wharf]=bench-wharf [wharf-mv]=bench-wharf-mv [macvlan]=bench-macvlan [bridge]=bench-bridge [none]=none)
declare -A times
# One warm-up each (image and plugin caches), not counted.
for k in "${kinds[@]}"; do "$DOCKER" run --rm --net "${net[$k]}" "$IMAGE" true || { echo "docker run on $k failed"; exit 1; }; done
for ((i = 0; i < N; i++)); do
  for k in "${kinds[@]}"; do
    t0=$(date +%s%N)
    "$DOCKER" run --rm --net "${net[$k]}" "$IMAGE" true || { echo "docker run on $k failed"; exit 1; }
    t1=$(date +%s%N)
    times[$k]+="$(((t1 - t0) / 1000)) "
  done
done

median_ms() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'; }
declare -A med
echo "docker run --rm $IMAGE true, median of $N ($("$DOCKER" version -f '{{.Server.Version}}') dockerd, $(nproc) cores):"
for k in "${kinds[@]}"; do
  med[$k]=$(median_ms <<<"${times[$k]}")
  printf '  %-8s %8s ms\n' "$k" "${med[$k]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "  wharf/macvlan  $(ratio "${med[wharf]}" "${med[macvlan]}")"
echo "  wharf/bridge   $(ratio "${med[wharf]}" "${med[bridge]}")"
echo "  wharf-mv/macvlan $(ratio "${med[wharf-mv]}" "${med[macvlan]}")"
echo "  over the --net none floor: wharf +$(awk -v a="${med[wharf]}" -v b="${med[none]}" 'BEGIN{printf "%.1f", a-b}') ms, macvlan +$(awk -v a="${med[macvlan]}" -v b="${med[none]}" 'BEGIN{printf "%.1f", a-b}') ms, bridge +$(awk -v a="${med[bridge]}" -v b="${med[none]}" 'BEGIN{printf "%.1f", a-b}') ms"
