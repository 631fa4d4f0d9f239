# shellcheck shell=bash
# A "dockerd simulator" for lab tests: drives wharf's plugin socket (HTTP/1.1 over the unix
# socket, made by plugin-client.pl, one process per test) the way dockerd 20.10 does (the
# calls, their order and their JSON: section 1 of the project notes, and moby's libnetwork),
# and plays the container side itself with network namespaces. A "host" is a network namespace running its own `wharf serve`; a
# "container" is a network namespace that gets its interface the way dockerd's sandbox code
# configures it. Nothing here runs in the caller's network namespace.
#
#   source "$(dirname "$0")/lib/dockersim.sh"
#   lab_require
#   sim_host A; sim_host B; sim_wire A eth1 B eth1
#   check "network created" sim_network_create A net1 --subnet 198.19.1.0/24
#   check "c1 runs" sim_run A c1 net1
#   check "c1 pings A" sim_ping c1 198.19.1.1
#   check "c1 removed" sim_rm A c1
#   check "network removed" sim_network_rm A net1
#   lab_summary
#
# What it does like dockerd: the activation calls, IPAM pool and gateway requests before
# CreateNetwork (and their release when CreateNetwork fails), 64-hex network and endpoint
# IDs, `-o` options as strings under com.docker.network.generic, --internal/--ipv6 as
# Docker's own keys, the container's address requested before CreateEndpoint, Join with the
# sandbox's netns path as SandboxKey, then moving SrcName into the sandbox, renaming it to
# DstPrefix+0, MAC/addresses (IPv6 with nodad)/up/connected routes/next-hop routes/default
# routes in dockerd's order, Program/RevokeExternalConnectivity for the gateway endpoint (404
# tolerated), and on removal Leave, the link moved back under SrcName, DeleteEndpoint,
# ReleaseAddress.
# What it does not: one network per container (no `docker network connect`, no docker0 or
# docker_gwbridge: a Join without gateway on a non-internal network only gets a note), no
# port mappings, no DNS, no restart replay, no concurrency, no GetCapabilities-driven
# behaviour (scope), no retries on connection errors.
#
# Environment: WHARF_BIN (default: $CARGO_TARGET_DIR or target/, then debug/wharf, relative
# to the repository; lab/run passes WHARF_* into the guest, not CARGO_TARGET_DIR),
# SIM_SERVE_ARGS (extra `wharf serve` arguments, words), SIM_TIMEOUT (seconds a call may
# take, 60).

SIM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$SIM_LIB_DIR/check.sh"
SIM_REPO_ROOT=$(cd "$SIM_LIB_DIR/../../.." && pwd)
WHARF_BIN=${WHARF_BIN:-${CARGO_TARGET_DIR:-target}/debug/wharf}
case $WHARF_BIN in /*) ;; *) WHARF_BIN=$SIM_REPO_ROOT/$WHARF_BIN ;; esac
# Hosts' sockets, state dirs, logs and the simulator's records (one file per network and
# per container, so that helpers run in subshells still see them).
SIM_DIR=$LAB_TMP/sim
SIM_TAG=s$$
mkdir -p "$SIM_DIR"
: >"$SIM_DIR/netns"
: >"$SIM_DIR/pids"
# The last answer of _sim_post/sim_call: HTTP status, body, the body's JSON flattened
# (SIM_ANS[InterfaceName.SrcName], SIM_ANS[StaticRoutes.0.RouteType], ...: see
# plugin-client.pl), and the error message when it failed.
SIM_CODE=0 SIM_BODY="" SIM_ERR=""
declare -A SIM_ANS=()
# The plugin client: one perl process for the whole test, talked to through two FIFOs
# (every process start costs ~0.5-1 s under the lab's emulated CPU; curl and jq for each
# call would cost seconds per container). Started now, in the test's own shell, so that
# subshells inherit its descriptors.
mkfifo "$SIM_DIR/client.in" "$SIM_DIR/client.out"
perl "$SIM_LIB_DIR/plugin-client.pl" <"$SIM_DIR/client.in" >"$SIM_DIR/client.out" 2>"$SIM_DIR/client.err" &
SIM_CLIENT_PID=$!
exec {SIM_TO}>"$SIM_DIR/client.in" {SIM_FROM}<"$SIM_DIR/client.out"

_sim_err() { echo "dockersim: $*" >&2; }

# _sim_id VAR: a Docker-style ID (64 lowercase hex digits) into VAR.
_sim_id() {
  local -n _sim_id_out=$1
  local part i
  _sim_id_out=""
  for ((i = 0; i < 8; i++)); do
    printf -v part '%08x' "$SRANDOM"
    _sim_id_out+=$part
  done
}

# _sim_json VAR TEXT: TEXT as a JSON string literal into VAR.
_sim_json() {
  local -n _sim_json_out=$1
  local s=$2
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  _sim_json_out="\"$s\""
}

# _sim_kv_object VAR K=V...: a JSON object of string values into VAR.
_sim_kv_object() {
  local -n _sim_obj_out=$1
  shift
  local kv k v sep=""
  _sim_obj_out="{"
  for kv in "$@"; do
    _sim_json k "${kv%%=*}"
    _sim_json v "${kv#*=}"
    _sim_obj_out+="$sep$k:$v"
    sep=,
  done
  _sim_obj_out+="}"
}

# sim_netns HOST|CONTAINER: prints the name of its network namespace (under /run/netns).
sim_netns() {
  if [[ -e $SIM_DIR/host.$1 ]]; then
    echo "$SIM_TAG-h-$1"
  elif [[ -e $SIM_DIR/ctr.$1 ]]; then
    echo "$SIM_TAG-c-$1"
  else
    _sim_err "no host or container named $1"
    return 1
  fi
}

# sim_on HOST CMD...: runs CMD in HOST's network namespace.
sim_on() {
  [[ -e $SIM_DIR/host.$1 ]] || { _sim_err "sim_on: no host $1"; return 1; }
  local ns=$SIM_TAG-h-$1
  shift
  nsenter --net="/run/netns/$ns" -- "$@"
}

# sim_in CONTAINER CMD...: runs CMD in CONTAINER's network namespace.
sim_in() {
  [[ -e $SIM_DIR/ctr.$1 ]] || { _sim_err "sim_in: no container $1"; return 1; }
  local ns=$SIM_TAG-c-$1
  shift
  nsenter --net="/run/netns/$ns" -- "$@"
}

# sim_ping FROM ADDRESS: FROM (a host or a container) pings ADDRESS (IPv4 or IPv6) with
# `ping -c1 -W2` until a reply comes or SIM_PING_DEADLINE seconds (20) pass: a fresh link may
# still be resolving its neighbour, slowly under the lab's emulated CPU.
sim_ping() {
  local from=$1 addr=$2 run deadline=$((SECONDS + ${SIM_PING_DEADLINE:-20}))
  if [[ -e $SIM_DIR/ctr.$from ]]; then run=sim_in; else run=sim_on; fi
  while :; do
    "$run" "$from" ping -n -c1 -W2 "$addr" && return 0
    ((SECONDS < deadline)) || break
    sleep 0.5
  done
  echo "$from cannot reach $addr; its addresses and routes:"
  "$run" "$from" sh -c 'ip -br addr; ip route; ip -6 route' 2>&1
  return 1
}

# _sim_post HOST PATH [JSON]: POSTs JSON to HOST's plugin socket at /PATH the way dockerd
# does (HTTP/1.1, no Content-Type, Docker's Accept header; an empty body for calls without
# arguments) and sets SIM_CODE, SIM_BODY, SIM_ANS. Fails (1) when the answer carries a
# non-empty Err (or IPAM's Error), when the HTTP status is not 200 or the socket does not
# answer, printing why on stderr (not with SIM_QUIET=1) and in SIM_ERR; fails with 2 on a
# 404 (an unimplemented call: dockerd tolerates it for some).
_sim_post() {
  local host=$1 path=${2#/} body=${3-} sock=$SIM_DIR/$1.sock n i k v
  SIM_CODE=0 SIM_BODY="" SIM_ERR=""
  SIM_ANS=()
  if [[ ! -S $sock ]]; then
    SIM_ERR="sim_call $host /$path: no plugin socket $sock (no sim_host $host?)"
  elif ! kill -0 "$SIM_CLIENT_PID" 2>/dev/null; then
    SIM_ERR="sim_call: the plugin client (perl) is gone: $(cat "$SIM_DIR/client.err")"
  else
    printf '%s\t%s\t%s\n' "$sock" "$path" "${body//$'\n'/ }" >&"$SIM_TO"
    if ! read -r -t "$((${SIM_TIMEOUT:-60} + 10))" -u "$SIM_FROM" SIM_CODE n ||
      ! IFS= read -r -t 5 -u "$SIM_FROM" SIM_BODY; then
      SIM_ERR="sim_call $host /$path: the plugin client did not answer"
    else
      for ((i = 0; i < n; i++)); do
        IFS=$'\t' read -r -t 5 -u "$SIM_FROM" k v
        SIM_ANS[$k]=$v
      done
      if ((SIM_CODE == 0)); then
        SIM_ERR="/$path on $host: $SIM_BODY"
      elif ((SIM_CODE == 404)); then
        SIM_ERR="/$path on $host: not implemented (HTTP 404): $SIM_BODY"
      elif [[ -n ${SIM_ANS[Err]-} || -n ${SIM_ANS[Error]-} ]]; then
        SIM_ERR="/$path on $host failed (HTTP $SIM_CODE): ${SIM_ANS[Err]:-${SIM_ANS[Error]}}"
      elif ((SIM_CODE != 200)); then
        SIM_ERR="/$path on $host: HTTP $SIM_CODE without Err: $SIM_BODY"
      fi
    fi
  fi
  [[ -z $SIM_ERR ]] && return 0
  [[ ${SIM_QUIET:-} == 1 ]] || _sim_err "$SIM_ERR"
  if ((SIM_CODE == 404)); then return 2; fi
  return 1
}

# sim_call HOST PATH [JSON]: _sim_post, and prints the answer's body. Run in the test's own
# shell (not in $(...)), it leaves the answer in SIM_CODE, SIM_BODY and SIM_ANS[KEY] (the
# JSON flattened: nested keys joined with ".", array items by index, [] and {} for empty
# ones), e.g. ${SIM_ANS[pools]} is "[]" when wharf holds no pool.
sim_call() {
  local rc=0
  _sim_post "$@" || rc=$?
  [[ -n $SIM_BODY ]] && printf '%s\n' "$SIM_BODY"
  return "$rc"
}

# sim_status HOST: wharf's own status report (JSON: networks, endpoints, pools).
sim_status() { sim_call "$1" Wharf.Status; }

# sim_host NAME: a "host": network namespace NAME (lo up, sysctls as a new namespace has
# them: forwarding off until wharf turns it on) running `wharf serve --socket
# $SIM_DIR/NAME.sock --state-dir $SIM_DIR/NAME-state --debug $SIM_SERVE_ARGS`, logging to
# $SIM_DIR/NAME.log. Waits (20 s at most) until the socket answers, then makes dockerd's
# first calls: Plugin.Activate, NetworkDriver.GetCapabilities, IpamDriver.GetCapabilities,
# IpamDriver.GetDefaultAddressSpaces (whose local space the pools are requested in).
sim_host() {
  local name=${1:?sim_host NAME} ns space
  ns=$SIM_TAG-h-$name
  if [[ -e $SIM_DIR/host.$name ]]; then
    _sim_err "sim_host: host $name exists"
    return 1
  fi
  if [[ ! -x $WHARF_BIN ]]; then
    _sim_err "sim_host: no wharf binary at $WHARF_BIN (build it, or set WHARF_BIN)"
    return 1
  fi
  ip netns add "$ns" || return 1
  echo "$ns" >>"$SIM_DIR/netns"
  : >"$SIM_DIR/host.$name"
  ip -n "$ns" link set lo up || return 1
  _sim_start_wharf "$name" || return 1
  if [[ $SIM_BODY != *'"NetworkDriver"'* || $SIM_BODY != *'"IpamDriver"'* ]]; then
    _sim_err "sim_host $name: Plugin.Activate does not implement NetworkDriver and IpamDriver: $SIM_BODY"
    return 1
  fi
  _sim_post "$name" NetworkDriver.GetCapabilities || return 1
  _sim_post "$name" IpamDriver.GetCapabilities || return 1
  _sim_post "$name" IpamDriver.GetDefaultAddressSpaces || return 1
  space=${SIM_ANS[LocalDefaultAddressSpace]-}
  if [[ -z $space ]]; then
    _sim_err "sim_host $name: GetDefaultAddressSpaces named no LocalDefaultAddressSpace: $SIM_BODY"
    return 1
  fi
  echo "$space" >"$SIM_DIR/host.$name"
}

# _sim_start_wharf HOST: starts `wharf serve` in HOST's namespace on HOST's socket and state
# dir, and waits until it answers Plugin.Activate.
_sim_start_wharf() {
  local name=$1 ns pid deadline
  ns=$(sim_netns "$name") || return 1
  # shellcheck disable=SC2086 # SIM_SERVE_ARGS is a list of words
  ip netns exec "$ns" "$WHARF_BIN" serve --socket "$SIM_DIR/$name.sock" \
    --state-dir "$SIM_DIR/$name-state" --debug ${SIM_SERVE_ARGS:-} \
    >>"$SIM_DIR/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid $name" >>"$SIM_DIR/pids"
  deadline=$((SECONDS + 20))
  until [[ -S $SIM_DIR/$name.sock ]] && SIM_QUIET=1 _sim_post "$name" Plugin.Activate; do
    if ! kill -0 "$pid" 2>/dev/null; then
      _sim_err "sim_host $name: wharf serve exited before answering; its log:"
      tail -n 20 "$SIM_DIR/$name.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      _sim_err "sim_host $name: wharf serve did not answer within 20 s (${SIM_ERR:-}); its log:"
      tail -n 20 "$SIM_DIR/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# sim_restart HOST: kills HOST's wharf with SIGKILL (a crash: nothing is saved on the way out)
# and starts it again on the same socket and state dir, as a supervisor would.
sim_restart() {
  local name=${1:?sim_restart HOST} pid
  pid=$(awk -v n="$name" '$2 == n { p = $1 } END { print p }' "$SIM_DIR/pids")
  [[ -n $pid ]] || { _sim_err "sim_restart: no wharf for host $name"; return 1; }
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -f "$SIM_DIR/$name.sock"
  _sim_start_wharf "$name"
}

# sim_wire HOSTA IFA HOSTB IFB: the cable between two hosts: a veth pair, IFA in HOSTA's
# namespace and IFB in HOSTB's, both up (no addresses).
sim_wire() {
  local a=${1:?} ifa=${2:?} b=${3:?} ifb=${4:?}
  [[ -e $SIM_DIR/host.$a && -e $SIM_DIR/host.$b ]] || { _sim_err "sim_wire: no host $a or $b"; return 1; }
  ip link add "$ifa" netns "$SIM_TAG-h-$a" up type veth peer name "$ifb" netns "$SIM_TAG-h-$b" &&
    ip -n "$SIM_TAG-h-$b" link set "$ifb" up
}

# _sim_release HOST POOL_ID ADDRESS: IpamDriver.ReleaseAddress (ADDRESS with or without
# its prefix length: dockerd sends the bare address).
_sim_release() {
  local addr
  _sim_json addr "${3%/*}"
  _sim_post "$1" IpamDriver.ReleaseAddress "{\"PoolID\":\"$2\",\"Address\":$addr}"
}

# _sim_release_ipam HOST RECORD...: dockerd's ipamRelease: for each "FAMILY POOL_ID POOL
# GATEWAY" record, the gateway's ReleaseAddress, then ReleasePool. Fails if any failed.
_sim_release_ipam() {
  local host=$1 rec fam pid pool gw rc=0
  shift
  for rec in "$@"; do
    read -r fam pid pool gw <<<"$rec"
    if [[ -n $gw && $gw != - ]]; then _sim_release "$host" "$pid" "$gw" || rc=1; fi
    _sim_post "$host" IpamDriver.ReleasePool "{\"PoolID\":\"$pid\"}" || rc=1
  done
  return "$rc"
}

# sim_network_create HOST NAME [--subnet CIDR]... [--gateway IP]... [--internal] [--ipv6]
#     [-o KEY=VALUE]...
# What dockerd does for `docker network create -d wharf --ipam-driver wharf ...`: per
# address family (IPv4, then IPv6 with --ipv6), per --subnet of that family (or one pool of
# wharf's choice when there is none), IpamDriver.RequestPool, then IpamDriver.RequestAddress
# for the gateway (the --gateway of that family, else wharf's choice) with
# RequestAddressType=com.docker.network.gateway, unless the pool's Data named a gateway; then
# NetworkDriver.CreateNetwork with a fresh 64-hex ID, the options, and IPv4Data/IPv6Data
# with the gateways in CIDR form. A --gateway goes with the first subnet of its family that
# has none yet. Remembers NAME's ID, pools and gateways for the calls after it. When a call
# fails it releases what it took, as dockerd does, prints the error and fails.
sim_network_create() {
  local host=${1:?sim_network_create HOST NAME ...} name=${2:?sim_network_create HOST NAME ...}
  shift 2
  local subnets=() gateways=() generic=() internal=0 ipv6=0 space
  while (($#)); do
    case $1 in
      --subnet) subnets+=("${2:?--subnet needs a value}"); shift 2 ;;
      --subnet=*) subnets+=("${1#*=}"); shift ;;
      --gateway) gateways+=("${2:?--gateway needs a value}"); shift 2 ;;
      --gateway=*) gateways+=("${1#*=}"); shift ;;
      --internal) internal=1; shift ;;
      --ipv6) ipv6=1; shift ;;
      -o | --opt) generic+=("${2:?$1 needs KEY=VALUE}"); shift 2 ;;
      --opt=*) generic+=("${1#*=}"); shift ;;
      *) _sim_err "sim_network_create: unknown argument $1"; return 2 ;;
    esac
  done
  [[ -e $SIM_DIR/host.$host ]] || { _sim_err "sim_network_create: no host $host"; return 1; }
  if [[ -e $SIM_DIR/net.$host.$name ]]; then
    _sim_err "sim_network_create: network with name $name already exists on $host"
    return 1
  fi
  space=$(<"$SIM_DIR/host.$host")
  # Subnets and their gateways, per family ("-" = none given).
  local v4=() v6=() g4=() g6=() s g i fam found
  for s in "${subnets[@]}"; do
    if [[ $s == *:* ]]; then v6+=("$s"); g6+=(-); else v4+=("$s"); g4+=(-); fi
  done
  for g in "${gateways[@]}"; do
    found=0
    if [[ $g == *:* ]]; then
      for i in "${!v6[@]}"; do [[ ${g6[i]} == - ]] && { g6[i]=$g; found=1; break; }; done
    else
      for i in "${!v4[@]}"; do [[ ${g4[i]} == - ]] && { g4[i]=$g; found=1; break; }; done
    fi
    ((found)) || { _sim_err "sim_network_create: no --subnet for --gateway $g"; return 2; }
  done
  ((${#v4[@]})) || { v4=(""); g4=(-); }
  if ((ipv6)) && ((${#v6[@]} == 0)); then v6=(""); g6=(-); fi
  ((ipv6)) || { v6=(); g6=(); }

  local taken=() data4=() data6=() subs=() gws=() pool_id pool data_gw gw want isv6 json
  local space_json
  _sim_json space_json "$space"
  for fam in 4 6; do
    if [[ $fam == 4 ]]; then
      subs=("${v4[@]}") gws=("${g4[@]}") isv6=false
    else
      subs=("${v6[@]}") gws=("${g6[@]}") isv6=true
    fi
    for i in "${!subs[@]}"; do
      _sim_json json "${subs[i]}"
      _sim_post "$host" IpamDriver.RequestPool \
        "{\"AddressSpace\":$space_json,\"Pool\":$json,\"SubPool\":\"\",\"Options\":{},\"V6\":$isv6}" || {
        _sim_release_ipam "$host" "${taken[@]}"
        return 1
      }
      pool_id=${SIM_ANS[PoolID]-} pool=${SIM_ANS[Pool]-} data_gw=${SIM_ANS[Data.com.docker.network.gateway]-}
      if [[ -z $pool_id || -z $pool ]]; then
        _sim_err "RequestPool on $host answered no PoolID or Pool: $SIM_BODY"
        _sim_release_ipam "$host" "${taken[@]}"
        return 1
      fi
      if [[ -n $data_gw ]]; then
        gw=$data_gw
      else
        want=${gws[i]}
        [[ $want == - ]] && want=""
        _sim_json json "$want"
        _sim_post "$host" IpamDriver.RequestAddress \
          "{\"PoolID\":\"$pool_id\",\"Address\":$json,\"Options\":{\"RequestAddressType\":\"com.docker.network.gateway\"}}" || {
          _sim_release_ipam "$host" "${taken[@]}" "$fam $pool_id $pool -"
          return 1
        }
        gw=${SIM_ANS[Address]-}
        if [[ $gw != */* ]]; then
          _sim_err "RequestAddress (gateway) on $host answered no CIDR address: $SIM_BODY"
          _sim_release_ipam "$host" "${taken[@]}" "$fam $pool_id $pool -"
          return 1
        fi
      fi
      taken+=("$fam $pool_id $pool $gw")
      json="{\"AddressSpace\":$space_json,\"Gateway\":\"$gw\",\"Pool\":\"$pool\"}"
      if [[ $fam == 4 ]]; then data4+=("$json"); else data6+=("$json"); fi
    done
  done

  local id options body enable=false IFS=,
  ((ipv6)) && enable=true
  _sim_id id
  _sim_kv_object options "${generic[@]}"
  options="{\"com.docker.network.enable_ipv6\":$enable,\"com.docker.network.generic\":$options"
  ((internal)) && options+=",\"com.docker.network.internal\":true"
  options+="}"
  body="{\"NetworkID\":\"$id\",\"Options\":$options,\"IPv4Data\":[${data4[*]}],\"IPv6Data\":[${data6[*]}]}"
  IFS=$' \t\n'
  if ! _sim_post "$host" NetworkDriver.CreateNetwork "$body"; then
    _sim_release_ipam "$host" "${taken[@]}"
    return 1
  fi
  {
    echo "id $id"
    echo "internal $internal"
    for s in "${taken[@]}"; do echo "pool $s"; done
  } >"$SIM_DIR/net.$host.$name"
}

# _sim_net HOST NAME: loads network NAME's record: net_id, net_internal, net_pools
# ("FAMILY POOL_ID POOL GATEWAY_CIDR" each).
_sim_net() {
  local file=$SIM_DIR/net.$1.$2 key rest
  net_id="" net_internal=0 net_pools=()
  [[ -e $file ]] || { _sim_err "no network $2 on host $1"; return 1; }
  while read -r key rest; do
    case $key in
      id) net_id=$rest ;;
      internal) net_internal=$rest ;;
      pool) net_pools+=("$rest") ;;
    esac
  done <"$file"
}

# sim_network_id HOST NAME: prints the network's 64-hex ID.
sim_network_id() {
  # shellcheck disable=SC2034 # _sim_net sets them all
  local net_id net_internal net_pools
  _sim_net "$1" "$2" && echo "$net_id"
}

# sim_run HOST CONTAINER NETWORK [--ip IP] [--ip6 IP6] [--driver-opt KEY=VALUE]...
# What dockerd does for `docker run --network NETWORK [--ip IP] ...` on HOST: RequestAddress
# in the network's pools (IPv4, then IPv6 on an --ipv6 network; each pool in turn until one
# gives an address), CreateEndpoint (Interface.Address in CIDR form, driver options as
# top-level Options keys), a sandbox: network namespace "$SIM_TAG-c-CONTAINER" with lo up,
# Join with SandboxKey /run/netns/<it>, then in the sandbox: SrcName moved in, renamed
# DstPrefix0 (eth0), the MAC CreateEndpoint answered, addresses (IPv6 nodad), up, connected
# StaticRoutes (RouteType 1: `DEST dev eth0`), next-hop ones (RouteType 0: `DEST via HOP`),
# default routes via Gateway and GatewayIPv6; then ProgramExternalConnectivity (for the
# endpoint that gives the gateway; a 404 is fine) and EndpointOperInfo. A failure undoes
# what was done (as dockerd does) and is printed.
sim_run() {
  local host=${1:?sim_run HOST CONTAINER NETWORK} ctr=${2:?sim_run HOST CONTAINER NETWORK}
  local network=${3:?sim_run HOST CONTAINER NETWORK}
  shift 3
  local want4="" want6="" dopts=()
  while (($#)); do
    case $1 in
      --ip) want4=${2:?--ip needs a value}; shift 2 ;;
      --ip6) want6=${2:?--ip6 needs a value}; shift 2 ;;
      --driver-opt) dopts+=("${2:?--driver-opt needs KEY=VALUE}"); shift 2 ;;
      *) _sim_err "sim_run: unknown argument $1"; return 2 ;;
    esac
  done
  # shellcheck disable=SC2034 # _sim_net sets them all
  local net_id net_internal net_pools
  _sim_net "$host" "$network" || return 1
  if [[ -e $SIM_DIR/ctr.$ctr ]]; then
    _sim_err "sim_run: container $ctr exists (container names are unique per test)"
    return 1
  fi
  # Addresses: "POOL_ID ADDRESS_CIDR" per family that has pools.
  local addrs=() fam f rec pid pool gw want a err got
  local addr4="" addr6=""
  for fam in 4 6; do
    want=$want4
    [[ $fam == 6 ]] && want=$want6
    got="" err=""
    for rec in "${net_pools[@]}"; do
      read -r f pid pool gw <<<"$rec"
      [[ $f == "$fam" ]] || continue
      _sim_json a "$want"
      if SIM_QUIET=1 _sim_post "$host" IpamDriver.RequestAddress "{\"PoolID\":\"$pid\",\"Address\":$a,\"Options\":null}"; then
        got=${SIM_ANS[Address]-}
        [[ $got == */* ]] || { err="RequestAddress answered no CIDR address: $SIM_BODY"; got=""; }
        [[ -n $got ]] && { addrs+=("$pid $got"); break; }
      else
        err=$SIM_ERR
      fi
    done
    if [[ -n $err && -z $got ]]; then
      _sim_err "sim_run $ctr: no IPv$fam address from network $network: $err"
      # shellcheck disable=SC2086 # "POOL_ID ADDRESS"
      for rec in "${addrs[@]}"; do _sim_release "$host" $rec; done
      return 1
    fi
    if [[ $fam == 4 ]]; then addr4=$got; else addr6=$got; fi
  done

  local eid body opts a4 a6 mac="" ns
  _sim_id eid
  _sim_json a4 "$addr4"
  _sim_json a6 "$addr6"
  opts='"com.docker.network.endpoint.exposedports":[],"com.docker.network.portmap":[]'
  if ((${#dopts[@]})); then
    _sim_kv_object body "${dopts[@]}"
    opts+=",${body:1:-1}"
  fi
  body="{\"NetworkID\":\"$net_id\",\"EndpointID\":\"$eid\",\"Interface\":{\"Address\":$a4,\"AddressIPv6\":$a6,\"MacAddress\":\"\"},\"Options\":{$opts}}"
  if ! _sim_post "$host" NetworkDriver.CreateEndpoint "$body"; then
    # shellcheck disable=SC2086 # "POOL_ID ADDRESS"
    for rec in "${addrs[@]}"; do _sim_release "$host" $rec; done
    return 1
  fi
  mac=${SIM_ANS[Interface.MacAddress]-}

  ns=$SIM_TAG-c-$ctr
  {
    echo "host $host"
    echo "network $network"
    echo "netid $net_id"
    echo "eid $eid"
    echo "addr4 $addr4"
    echo "addr6 $addr6"
    for rec in "${addrs[@]}"; do echo "addr $rec"; done
  } >"$SIM_DIR/ctr.$ctr"
  if ! ip netns add "$ns"; then
    _sim_err "sim_run $ctr: cannot make its sandbox netns $ns"
    _sim_delete_endpoint "$ctr"
    return 1
  fi
  echo "$ns" >>"$SIM_DIR/netns"
  body="{\"NetworkID\":\"$net_id\",\"EndpointID\":\"$eid\",\"SandboxKey\":\"/run/netns/$ns\",\"Options\":{\"com.docker.network.endpoint.exposedports\":[],\"com.docker.network.portmap\":[]}}"
  if ! _sim_post "$host" NetworkDriver.Join "$body"; then
    _sim_delete_endpoint "$ctr"
    return 1
  fi
  local ans=$SIM_BODY src=${SIM_ANS[InterfaceName.SrcName]-} prefix=${SIM_ANS[InterfaceName.DstPrefix]-}
  local gw4=${SIM_ANS[Gateway]-} gw6=${SIM_ANS[GatewayIPv6]-} routes=()
  # routes: DESTINATION ROUTE_TYPE NEXT_HOP ("-" for none), three words per route.
  local i=0
  while [[ -n ${SIM_ANS[StaticRoutes.$i.Destination]+set} ]]; do
    routes+=("${SIM_ANS[StaticRoutes.$i.Destination]}" "${SIM_ANS[StaticRoutes.$i.RouteType]-}"
      "${SIM_ANS[StaticRoutes.$i.NextHop]:--}")
    i=$((i + 1))
  done
  if [[ -z $src || -z $prefix ]]; then
    _sim_err "sim_run $ctr: Join answered no InterfaceName.SrcName/DstPrefix: $ans"
    _sim_leave_and_delete "$ctr"
    return 1
  fi
  echo "src $src" >>"$SIM_DIR/ctr.$ctr"
  # dockerd's osl.AddInterface: move, then (in the sandbox) down, rename, MAC, addresses, up,
  # the interface's connected routes; then the static routes, then the default gateways.
  local dev=${prefix}0 cmds
  cmds="link set dev lo up
link set dev $src down
link set dev $src name $dev"
  [[ -n $mac ]] && cmds+=$'\n'"link set dev $dev address $mac"
  [[ -n $addr4 ]] && cmds+=$'\n'"addr add $addr4 dev $dev"
  [[ -n $addr6 ]] && cmds+=$'\n'"addr add $addr6 dev $dev nodad"
  cmds+=$'\n'"link set dev $dev up"
  for ((i = 0; i < ${#routes[@]}; i += 3)); do
    [[ ${routes[i + 1]} == 1 ]] && cmds+=$'\n'"route add ${routes[i]} dev $dev"
  done
  for ((i = 0; i < ${#routes[@]}; i += 3)); do
    case ${routes[i + 1]} in
      1) ;;
      0) cmds+=$'\n'"route add ${routes[i]} via ${routes[i + 2]}" ;;
      *)
        _sim_err "sim_run $ctr: Join answered a static route of unknown RouteType ${routes[i + 1]}: $ans"
        _sim_leave_and_delete "$ctr"
        return 1
        ;;
    esac
  done
  [[ -n $gw4 ]] && cmds+=$'\n'"route add default via $gw4"
  [[ -n $gw6 ]] && cmds+=$'\n'"route add ::/0 via $gw6"
  if ! ip -n "$SIM_TAG-h-$host" link set dev "$src" netns "$ns"; then
    _sim_err "sim_run $ctr: cannot move Join's SrcName $src from host $host into the sandbox"
    _sim_leave_and_delete "$ctr"
    return 1
  fi
  if ! ip -n "$ns" -batch - <<<"$cmds"; then
    _sim_err "sim_run $ctr: configuring $dev in the sandbox failed; the commands were:"
    # shellcheck disable=SC2001 # one prefix per line
    sed 's/^/    ip /' <<<"$cmds" >&2
    _sim_leave_and_delete "$ctr"
    return 1
  fi
  echo "dev $dev" >>"$SIM_DIR/ctr.$ctr"
  if [[ -n $gw4 || -n $gw6 ]]; then
    echo "gwep 1" >>"$SIM_DIR/ctr.$ctr"
    body="{\"NetworkID\":\"$net_id\",\"EndpointID\":\"$eid\",\"Options\":{\"com.docker.network.endpoint.exposedports\":[],\"com.docker.network.portmap\":[]}}"
    _sim_post "$host" NetworkDriver.ProgramExternalConnectivity "$body"
    case $? in
      0 | 2) ;;
      *) sim_rm "$host" "$ctr" >/dev/null 2>&1; return 1 ;;
    esac
  elif ((!net_internal)); then
    _sim_err "note: Join for $ctr gave no gateway on non-internal network $network: dockerd would also attach docker_gwbridge (not simulated)"
  fi
  if ! _sim_post "$host" NetworkDriver.EndpointOperInfo "{\"NetworkID\":\"$net_id\",\"EndpointID\":\"$eid\"}" >/dev/null; then
    sim_rm "$host" "$ctr" >/dev/null 2>&1
    return 1
  fi
}

# _sim_ctr CONTAINER: loads a container's record: c_host c_network c_netid c_eid c_addr4
# c_addr6 c_addrs ("POOL_ID ADDRESS" each) c_src c_dev c_gwep.
_sim_ctr() {
  local file=$SIM_DIR/ctr.$1 key rest
  c_host="" c_network="" c_netid="" c_eid="" c_addr4="" c_addr6="" c_addrs=() c_src="" c_dev="" c_gwep=0
  [[ -e $file ]] || { _sim_err "no container $1"; return 1; }
  while read -r key rest; do
    case $key in
      host) c_host=$rest ;;
      network) c_network=$rest ;;
      netid) c_netid=$rest ;;
      eid) c_eid=$rest ;;
      addr4) c_addr4=$rest ;;
      addr6) c_addr6=$rest ;;
      addr) c_addrs+=("$rest") ;;
      src) c_src=$rest ;;
      dev) c_dev=$rest ;;
      gwep) c_gwep=$rest ;;
    esac
  done <"$file"
}

# sim_ip CONTAINER [6]: prints the container's IPv4 (or IPv6) address, without prefix length.
sim_ip() {
  # shellcheck disable=SC2034 # _sim_ctr sets them all
  local c_host c_network c_netid c_eid c_addr4 c_addr6 c_addrs c_src c_dev c_gwep a
  _sim_ctr "$1" || return 1
  a=$c_addr4
  [[ ${2:-4} == 6 ]] && a=$c_addr6
  [[ -n $a ]] || { _sim_err "container $1 has no IPv${2:-4} address"; return 1; }
  echo "${a%/*}"
}

# The end of a container: DeleteEndpoint, ReleaseAddress of its addresses, the sandbox
# deleted, its record gone. Fails if a call failed (after doing all of it).
_sim_delete_endpoint() {
  local ctr=$1 rc=0 rec ns=$SIM_TAG-c-$1
  # shellcheck disable=SC2034 # _sim_ctr sets them all
  local c_host c_network c_netid c_eid c_addr4 c_addr6 c_addrs c_src c_dev c_gwep
  _sim_ctr "$ctr" || return 1
  _sim_post "$c_host" NetworkDriver.DeleteEndpoint "{\"NetworkID\":\"$c_netid\",\"EndpointID\":\"$c_eid\"}" || rc=1
  for rec in "${c_addrs[@]}"; do
    # shellcheck disable=SC2086 # "POOL_ID ADDRESS"
    _sim_release "$c_host" $rec || rc=1
  done
  if [[ -e /run/netns/$ns ]]; then
    ip netns del "$ns" || rc=1
  fi
  rm -f "$SIM_DIR/ctr.$ctr"
  return "$rc"
}

_sim_leave_and_delete() {
  # shellcheck disable=SC2034 # _sim_ctr sets them all
  local c_host c_network c_netid c_eid c_addr4 c_addr6 c_addrs c_src c_dev c_gwep
  _sim_ctr "$1" || return 1
  _sim_post "$c_host" NetworkDriver.Leave "{\"NetworkID\":\"$c_netid\",\"EndpointID\":\"$c_eid\"}"
  _sim_delete_endpoint "$1"
}

# sim_rm HOST CONTAINER: what dockerd does when the container stops and is removed:
# RevokeExternalConnectivity (if its endpoint gave the gateway; a 404 is fine), Leave, the
# interface moved back to HOST under its SrcName (down, renamed, moved: osl's Remove), then
# DeleteEndpoint, ReleaseAddress of each address, and the sandbox netns deleted. Like
# dockerd it carries on after a failed step; fails if any step failed, printing which.
sim_rm() {
  local host=${1:?sim_rm HOST CONTAINER} ctr=${2:?sim_rm HOST CONTAINER} rc=0 body ns
  # shellcheck disable=SC2034 # _sim_ctr sets them all
  local c_host c_network c_netid c_eid c_addr4 c_addr6 c_addrs c_src c_dev c_gwep
  _sim_ctr "$ctr" || return 1
  if [[ $c_host != "$host" ]]; then
    _sim_err "sim_rm: container $ctr runs on $c_host, not on $host"
    return 1
  fi
  ns=$SIM_TAG-c-$ctr
  body="{\"NetworkID\":\"$c_netid\",\"EndpointID\":\"$c_eid\"}"
  if ((c_gwep)); then
    _sim_post "$host" NetworkDriver.RevokeExternalConnectivity "$body"
    (($? == 1)) && rc=1
  fi
  _sim_post "$host" NetworkDriver.Leave "$body" || rc=1
  if [[ -n $c_dev && -n $c_src ]]; then
    if ! ip -n "$ns" -batch - <<EOF; then
link set dev $c_dev down
link set dev $c_dev name $c_src
link set dev $c_src netns $SIM_TAG-h-$host
EOF
      _sim_err "sim_rm $ctr: moving $c_dev back to host $host as $c_src failed"
      rc=1
    fi
  fi
  _sim_delete_endpoint "$ctr" || rc=1
  return "$rc"
}

# sim_network_rm HOST NAME [--release-first]: what dockerd 20.10 does for `docker network
# rm NAME` (refused while containers use it): NetworkDriver.DeleteNetwork, then (if it
# succeeded) ReleaseAddress of each gateway and ReleasePool. With --release-first, the order
# of newer dockerds (moby 25 and later): the IPAM releases first, then DeleteNetwork.
sim_network_rm() {
  local host=${1:?sim_network_rm HOST NAME} name=${2:?sim_network_rm HOST NAME} first=0 rc=0 f key rest
  [[ ${3:-} == --release-first ]] && first=1
  # shellcheck disable=SC2034 # _sim_net sets them all
  local net_id net_internal net_pools
  _sim_net "$host" "$name" || return 1
  for f in "$SIM_DIR"/ctr.*; do
    [[ -e $f ]] || continue
    while read -r key rest; do
      if [[ $key == netid && $rest == "$net_id" ]]; then
        _sim_err "sim_network_rm: network $name has active endpoints (container ${f##*/ctr.})"
        return 1
      fi
    done <"$f"
  done
  if ((first)); then
    _sim_release_ipam "$host" "${net_pools[@]}" || rc=1
    _sim_post "$host" NetworkDriver.DeleteNetwork "{\"NetworkID\":\"$net_id\"}" || rc=1
  else
    _sim_post "$host" NetworkDriver.DeleteNetwork "{\"NetworkID\":\"$net_id\"}" || return 1
    _sim_release_ipam "$host" "${net_pools[@]}" || rc=1
  fi
  rm -f "$SIM_DIR/net.$host.$name"
  return "$rc"
}

# sim_log HOST [LINES]: the tail of HOST's wharf log.
sim_log() { tail -n "${2:-30}" "$SIM_DIR/$1.log"; }

# sim_cleanup STATUS: (an EXIT hook) stops every wharf this test started (TERM, then KILL
# after 5 s), shows their log tails if the test failed, deletes every namespace it made.
sim_cleanup() {
  local rc=${1:-0} pid name ns deadline
  # stderr off: bash reports killed background jobs when it reaps them.
  {
    while read -r pid name; do
      kill -TERM "$pid" || continue
      deadline=$((SECONDS + 5))
      while kill -0 "$pid"; do
        ((SECONDS < deadline)) || { kill -KILL "$pid"; break; }
        sleep 0.1
      done
      wait "$pid"
    done <"$SIM_DIR/pids"
    exec {SIM_TO}>&- {SIM_FROM}<&-
    kill "$SIM_CLIENT_PID"
    wait "$SIM_CLIENT_PID"
  } 2>/dev/null
  if ((rc != 0 || LAB_FAILED > 0)); then
    while read -r pid name; do
      echo "    wharf log of host $name (tail):"
      tail -n 25 "$SIM_DIR/$name.log" | sed 's/^/      | /'
    done <"$SIM_DIR/pids"
  fi
  while read -r ns; do
    [[ -e /run/netns/$ns ]] && ip netns del "$ns"
  done <"$SIM_DIR/netns"
}
lab_at_exit sim_cleanup

# sim_no_leftovers HOST: fails, listing them, if HOST has links wharf makes (w[hcsd]* names,
# or a wharf: alias) or proto 87 routes.
# A listing that fails fails the check: an empty answer must mean "nothing there".
sim_no_leftovers() {
  local ns links r4 r6 out
  ns=$(sim_netns "$1") || return 1
  if ! { links=$(ip -n "$ns" -o link show) && r4=$(ip -n "$ns" -4 route show table all proto 87) &&
    r6=$(ip -n "$ns" -6 route show table all proto 87); }; then
    echo "cannot list host $1's links and routes"
    return 1
  fi
  out=$(
    awk -F': ' '$2 ~ /^w[hcsd][0-9a-f]/ || /alias wharf:/ { print "link " $2 }' <<<"$links"
    printf '%s\n%s\n' "$r4" "$r6" | grep .
  )
  [[ -z $out ]] || { printf 'left behind in host %s:\n%s\n' "$1" "$out"; return 1; }
}

# sim_no_routes HOST: HOST has no proto 87 (wharf) route, IPv4 or IPv6, in any table.
sim_no_routes() {
  local ns routes
  ns=$(sim_netns "$1") || return 1
  routes=$(ip -n "$ns" -4 route show table all proto 87 && ip -n "$ns" -6 route show table all proto 87) || {
    echo "cannot list host $1's routes"
    return 1
  }
  [[ -z $routes ]] || { printf 'wharf routes on host %s:\n%s\n' "$1" "$routes"; return 1; }
}

# sim_wharf_empty HOST: wharf's status on HOST lists no network and no pool.
sim_wharf_empty() {
  sim_status "$1" >/dev/null || return 1
  [[ ${SIM_ANS[networks]-} == "[]" && ${SIM_ANS[pools]-} == "[]" ]] || { echo "$SIM_BODY"; return 1; }
}

# sim_two_hosts: hosts A and B, each serving its wharf, joined by a cable A:eth1 -- B:eth1
# with the addresses $WIRE_A/24 and $WIRE_B/24 (198.18.0.1 and .2 unless set); PASS/FAIL
# lines for each step, non-zero if a host did not come up.
sim_two_hosts() {
  WIRE_A=${WIRE_A:-198.18.0.1} WIRE_B=${WIRE_B:-198.18.0.2}
  check "host A up (wharf serving)" sim_host A || return 1
  check "host B up (wharf serving)" sim_host B || return 1
  check "cable A:eth1 -- B:eth1" sim_wire A eth1 B eth1
  check "A's wire address" ip -n "$(sim_netns A)" addr add "$WIRE_A/24" dev eth1
  check "B's wire address" ip -n "$(sim_netns B)" addr add "$WIRE_B/24" dev eth1
}
