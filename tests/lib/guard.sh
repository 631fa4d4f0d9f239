# shellcheck shell=bash
# Keeps test traffic on this machine. e2e cases and benchmarks run in the host's namespace,
# where container subnets are routed without NAT: a container address whose /32 route is
# missing (deleted on purpose, or never made by a bug) matches only the default route, and
# a ping to it would leave for the real network. Policy rules for the ranges tests use make
# such destinations unreachable unless the main table has a route more specific than the
# default one; the main table itself is not touched:
#   pref 31000 to RANGE lookup main suppress_prefixlength 0   (any route but a default one)
#   pref 31001 to RANGE unreachable
#
#   source tests/lib/guard.sh
#   guard_install || exit 1      # checks the guard works before returning 0
#   ...
#   guard_remove                 # only the rules guard_install added
#
# The ranges: 10.0.0.0/9 (wharf's default pool 10.47.0.0/16 and the tests' 10.4x subnets;
# not 10.255.0.0/16, where this machine's DNS server is), Docker's default pools
# 172.16.0.0/12 and 192.168.0.0/16, the benchmarking ranges 198.18.0.0/15 and 198.51.100.0/24,
# and the IPv6 ULAs fc00::/7 (this machine's own fd00::/64 stays reachable: its route is
# more specific than the default one).

GUARD_PREF=31000
GUARD_RANGES_V4=(10.0.0.0/9 172.16.0.0/12 192.168.0.0/16 198.18.0.0/15 198.51.100.0/24)
GUARD_RANGES_V6=(fc00::/7)
# A destination in a guarded range that no test routes: must be unreachable with the guard.
GUARD_PROBE_V4=10.46.255.254
GUARD_PROBE_V6=fd4e:ffff::1
GUARD_ADDED=()

# _guard_has FAMILY PREF RANGE: a rule with that preference and destination exists.
_guard_has() {
  ip "-$1" rule show pref "$2" to "$3" 2>/dev/null | grep -q .
}

# guard_install: adds the rules that are missing (remembering them for guard_remove), then
# checks that the probe addresses are unreachable and that this machine's own gateway and
# DNS server are still routed. Returns non-zero, saying why, when the guard does not hold.
guard_install() {
  local family range pref ranges
  for family in 4 6; do
    if [[ $family == 4 ]]; then ranges=("${GUARD_RANGES_V4[@]}"); else ranges=("${GUARD_RANGES_V6[@]}"); fi
    for range in "${ranges[@]}"; do
      for pref in "$GUARD_PREF" "$((GUARD_PREF + 1))"; do
        _guard_has "$family" "$pref" "$range" && continue
        if ((pref == GUARD_PREF)); then
          ip "-$family" rule add pref "$pref" to "$range" lookup main suppress_prefixlength 0 || return 1
        else
          ip "-$family" rule add pref "$pref" to "$range" unreachable || return 1
        fi
        GUARD_ADDED+=("$family $pref $range")
      done
    done
  done
  guard_check
}

# guard_check: the guard is in place and harmless (see guard_install).
guard_check() {
  local out
  if out=$(ip route get "$GUARD_PROBE_V4" 2>&1); then
    echo "guard: $GUARD_PROBE_V4 is routed although no test routes it: $out" >&2
    return 1
  fi
  if out=$(ip -6 route get "$GUARD_PROBE_V6" 2>&1); then
    echo "guard: $GUARD_PROBE_V6 is routed although no test routes it: $out" >&2
    return 1
  fi
  # The machine's own default route still serves everything outside the guarded ranges.
  if ! out=$(ip route get 1.1.1.1 2>&1) && ip route show default | grep -q .; then
    echo "guard: the default route no longer works: $out" >&2
    return 1
  fi
  return 0
}

# guard_remove: deletes the rules this process's guard_install added.
guard_remove() {
  local rec family pref range
  for rec in "${GUARD_ADDED[@]}"; do
    read -r family pref range <<<"$rec"
    ip "-$family" rule del pref "$pref" to "$range" 2>/dev/null
  done
  GUARD_ADDED=()
}
