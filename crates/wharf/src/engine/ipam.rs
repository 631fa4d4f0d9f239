//! IPAM decisions: pools (asked for, or picked from the default pools without overlapping
//! another wharf pool or a prefix the host already routes) and the addresses in them. Each
//! records its changes in a [`Draft`]; the engine commits them before anyone hears of them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::draft::Draft;
use super::remote::RemoteHosts;
use crate::model::{short_id, Allocation, Change, Misfit, Pool, State};

/// Where pools come from when `docker network create` names no `--subnet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultPools {
    pub v4: Vec<IpNet>,
    pub v4_prefix_len: u8,
    pub v6: Vec<IpNet>,
    pub v6_prefix_len: u8,
    /// The IPv4 pool a network without --subnet gets first, while it is free (the daemon's
    /// `--ipvlan-subnet`, as the ipvlan plugin wharf grew from took it), before `v4`.
    pub preferred_v4: Option<IpNet>,
    /// The gateway handed out in `preferred_v4` when Docker names none (`--gateway`).
    pub preferred_gateway: Option<IpAddr>,
}

impl Default for DefaultPools {
    fn default() -> Self {
        DefaultPools {
            v4: vec!["10.47.0.0/16".parse().expect("constant")],
            v4_prefix_len: 24,
            v6: vec!["fd5e:1c4d:9a2b::/48".parse().expect("constant")],
            v6_prefix_len: 64,
            preferred_v4: None,
            preferred_gateway: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("pool {wanted} overlaps wharf pool {existing}: choose another --subnet, or remove the network that uses {existing}")]
    Overlap { wanted: IpNet, existing: IpNet },
    #[error("no pool {0} is known to wharf (it was released, or never requested)")]
    UnknownPool(String),
    #[error("no free {family} pool of size /{prefix_len} left in the default pools {bases}: pass --subnet, or give wharf more with --default-pool")]
    NoDefaultPool {
        family: &'static str,
        prefix_len: u8,
        bases: String,
    },
    #[error("address {address} is outside pool {pool}: pick an address inside it")]
    OutsidePool { address: IpAddr, pool: IpNet },
    #[error("address {address} is {reason} of {pool} and cannot be assigned")]
    Reserved {
        address: IpAddr,
        pool: IpNet,
        reason: &'static str,
    },
    #[error("address {address} is already in use in pool {pool} ({by}): pick another address or remove its user")]
    InUse {
        address: IpAddr,
        pool: IpNet,
        by: String,
    },
    #[error("pool {pool} is exhausted: all {usable} usable addresses are in use; remove containers or recreate the network with a larger --subnet or --ip-range")]
    Exhausted { pool: IpNet, usable: u128 },
    #[error("address {address} of pool {pool} is used on another host (a routing peer or the routing daemon beside wharf routes {address} there): pick another address, or give each host its own block of the subnet (docker network create --ip-range, or wharf serve --host-block)")]
    UsedElsewhere { address: IpAddr, pool: IpNet },
    #[error("address {address} is not allocated in pool {pool}")]
    NotAllocated { address: IpAddr, pool: IpNet },
    #[error("pool {pool} still holds extra address {address} of endpoint {}: remove the endpoint first (docker network disconnect)", short_id(.endpoint))]
    HeldByEndpoint {
        pool: IpNet,
        address: IpAddr,
        endpoint: String,
    },
    #[error("internal error: {0}")]
    Misfit(#[from] Misfit),
}

/// A pool Docker asks for, after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRequest {
    pub address_space: String,
    pub subnet: Option<IpNet>,
    pub range: Option<IpNet>,
    pub v6: bool,
}

pub fn parse_prefix(what: &'static str, text: &str) -> Result<IpNet, IpamError> {
    let net: IpNet = text.trim().parse().map_err(|_| IpamError::Invalid {
        what,
        value: text.into(),
        reason: prefix_length_too_long(text.trim())
            .unwrap_or_else(|| "expected a CIDR such as 10.46.0.0/16 or fd4e:46::/64".into()),
    })?;
    if net.trunc() != net {
        return Err(IpamError::Invalid {
            what,
            value: text.into(),
            reason: format!("host bits are set; did you mean {}?", net.trunc()),
        });
    }
    Ok(net)
}

/// For `10.46.0.0/33`: a good address with a prefix length its family cannot have.
fn prefix_length_too_long(text: &str) -> Option<String> {
    let (address, length) = text.split_once('/')?;
    let max = match address.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let length: u32 = length.parse().ok()?;
    (length > max).then(|| format!("prefix length {length} is longer than {max}"))
}

pub fn parse_address(what: &'static str, text: &str) -> Result<IpAddr, IpamError> {
    // Docker sometimes sends an address in CIDR form; the prefix length is the pool's anyway.
    let bare = text.trim().split('/').next().unwrap_or_default();
    bare.parse().map_err(|_| IpamError::Invalid {
        what,
        value: text.into(),
        reason: "expected an IPv4 or IPv6 address".into(),
    })
}

fn pool_id(space: &str, subnet: IpNet, range: Option<IpNet>) -> String {
    match range {
        Some(range) => format!("{space}/{subnet}/{range}"),
        None => format!("{space}/{subnet}"),
    }
}

/// Reserves a pool and returns its ID.
pub fn request_pool(
    draft: &mut Draft,
    defaults: &DefaultPools,
    host_prefixes: &[IpNet],
    host_blocks: &[IpNet],
    req: &PoolRequest,
) -> Result<Pool, IpamError> {
    let (subnet, from_defaults) = match req.subnet {
        Some(subnet) => {
            if subnet.addr().is_ipv6() != req.v6 {
                return Err(IpamError::Invalid {
                    what: "pool",
                    value: subnet.to_string(),
                    reason: format!(
                        "Docker asked for an {} pool",
                        if req.v6 { "IPv6" } else { "IPv4" }
                    ),
                });
            }
            (subnet, false)
        }
        None => (pick_default(draft, defaults, host_prefixes, req.v6)?, true),
    };
    if let Some(range) = req.range {
        if range.addr().is_ipv6() != subnet.addr().is_ipv6() || !subnet.contains(&range) {
            return Err(IpamError::Invalid {
                what: "--ip-range",
                value: range.to_string(),
                reason: format!("it must lie inside the subnet {subnet}"),
            });
        }
    }
    if let Some(existing) = draft
        .state()
        .pools
        .values()
        .find(|p| overlaps(p.subnet, subnet))
    {
        return Err(IpamError::Overlap {
            wanted: subnet,
            existing: existing.subnet,
        });
    }
    let preferred = from_defaults && Some(subnet) == defaults.preferred_v4;
    // A subnet that spans hosts: this host hands out its own block of it only.
    let range = req
        .range
        .or_else(|| host_blocks.iter().find(|b| subnet.contains(*b)).copied());
    let pool = Pool {
        id: pool_id(&req.address_space, subnet, range),
        address_space: req.address_space.clone(),
        subnet,
        range,
        from_defaults,
        allocations: Default::default(),
        last_allocated: None,
        default_gateway: defaults.preferred_gateway.filter(|_| preferred),
    };
    draft.record(Change::PoolAdded { pool: pool.clone() })?;
    Ok(pool)
}

pub fn release_pool(draft: &mut Draft, id: &str) -> Result<Pool, IpamError> {
    let pool = draft
        .state()
        .pools
        .get(id)
        .cloned()
        .ok_or_else(|| IpamError::UnknownPool(id.into()))?;
    // An endpoint's extra addresses are wharf's, given back with the endpoint (dockerd removes
    // endpoints before it releases their pool). A pool released under them would forget them,
    // and a new pool of the same subnet would hand them to another container.
    if let Some((address, endpoint)) = pool.allocations.iter().find_map(|(a, k)| match k {
        Allocation::Extra { endpoint } => Some((*a, endpoint.clone())),
        _ => None,
    }) {
        return Err(IpamError::HeldByEndpoint {
            pool: pool.subnet,
            address,
            endpoint,
        });
    }
    draft.record(Change::PoolRemoved { id: id.into() })?;
    Ok(pool)
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn pick_default(
    draft: &mut Draft,
    defaults: &DefaultPools,
    host_prefixes: &[IpNet],
    v6: bool,
) -> Result<IpNet, IpamError> {
    let state = draft.state();
    let taken = |state: &State, c: &IpNet| {
        state.pools.values().any(|p| overlaps(p.subnet, *c))
            || host_prefixes.iter().any(|h| overlaps(*h, *c))
    };
    if let Some(preferred) = defaults.preferred_v4.filter(|p| !v6 && !taken(state, p)) {
        return Ok(preferred);
    }
    let (bases, prefix_len, cursor) = if v6 {
        (&defaults.v6, defaults.v6_prefix_len, state.next_default_v6)
    } else {
        (&defaults.v4, defaults.v4_prefix_len, state.next_default_v4)
    };
    let candidates: Vec<IpNet> = bases
        .iter()
        .filter(|base| base.prefix_len() <= prefix_len)
        .flat_map(|base| base.subnets(prefix_len).into_iter().flatten())
        .collect();
    // Start after the last pool handed out, and wrap around once.
    let start = cursor
        .and_then(|last| candidates.iter().position(|c| *c == last))
        .map_or(0, |i| i + 1);
    let n = candidates.len();
    let chosen = (0..n)
        .map(|i| candidates[(start + i) % n])
        .find(|c| !taken(state, c))
        .ok_or_else(|| IpamError::NoDefaultPool {
            family: if v6 { "IPv6" } else { "IPv4" },
            prefix_len,
            bases: bases
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let (mut v4, mut v6_cursor) = (state.next_default_v4, state.next_default_v6);
    if v6 {
        v6_cursor = Some(chosen);
    } else {
        v4 = Some(chosen);
    }
    draft.record(Change::DefaultCursors { v4, v6: v6_cursor })?;
    Ok(chosen)
}

fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

fn from_u128(value: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(value))
    } else {
        // Callers only pass values inside an IPv4 prefix.
        IpAddr::V4(Ipv4Addr::from(value as u32))
    }
}

/// First and last assignable address of a prefix: IPv4 keeps back the network and broadcast
/// addresses (except /31 and /32), IPv6 the subnet-router anycast address.
fn usable_bounds(net: IpNet) -> (u128, u128) {
    let first = to_u128(net.network());
    let last = to_u128(net.broadcast());
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    match (net, host_bits) {
        (_, 0) => (first, last),
        (IpNet::V4(_), 1) => (first, last),
        (IpNet::V4(_), _) => (first + 1, last - 1),
        (IpNet::V6(_), _) => (first + 1, last),
    }
}

fn reserved_reason(net: IpNet, address: IpAddr) -> Option<&'static str> {
    let (first, last) = usable_bounds(net);
    let value = to_u128(address);
    if value < first {
        Some(if net.addr().is_ipv6() {
            "the subnet-router anycast address"
        } else {
            "the network address"
        })
    } else if value > last {
        Some("the broadcast address")
    } else {
        None
    }
}

fn describe(allocation: &Allocation) -> String {
    match allocation {
        Allocation::Gateway => "the network's gateway".into(),
        Allocation::Docker => "a container or aux address".into(),
        Allocation::Extra { endpoint } => {
            format!("an extra address of endpoint {}", short_id(endpoint))
        }
        Allocation::Shim { network } => format!("the host shim of network {}", short_id(network)),
    }
}

/// Allocates `wanted`, or the next free address (a gateway request with no address gets the
/// subnet's first address when it is free, as Docker's own IPAM does). Returns the address
/// with the pool's prefix length.
pub fn request_address(
    draft: &mut Draft,
    pool_id: &str,
    wanted: Option<IpAddr>,
    kind: Allocation,
    remote: &RemoteHosts,
) -> Result<IpNet, IpamError> {
    let pool = draft
        .state()
        .pools
        .get(pool_id)
        .ok_or_else(|| IpamError::UnknownPool(pool_id.into()))?;
    let subnet = pool.subnet;
    let address = match wanted {
        Some(address) => {
            if !subnet.contains(&address) {
                return Err(IpamError::OutsidePool {
                    address,
                    pool: subnet,
                });
            }
            if let Some(reason) = reserved_reason(subnet, address) {
                return Err(IpamError::Reserved {
                    address,
                    pool: subnet,
                    reason,
                });
            }
            if let Some(by) = pool.allocations.get(&address) {
                return Err(IpamError::InUse {
                    address,
                    pool: subnet,
                    by: describe(by),
                });
            }
            if remote.contains(address) {
                return Err(IpamError::UsedElsewhere {
                    address,
                    pool: subnet,
                });
            }
            address
        }
        None => match pool.default_gateway {
            Some(gateway)
                if kind == Allocation::Gateway && !pool.allocations.contains_key(&gateway) =>
            {
                gateway
            }
            _ => next_free(pool, kind == Allocation::Gateway, remote)?,
        },
    };
    draft.record(Change::Allocated {
        pool: pool_id.into(),
        address,
        allocation: kind,
        cursor: wanted.is_none().then_some(address),
    })?;
    IpNet::new(address, subnet.prefix_len()).map_err(|_| IpamError::Invalid {
        what: "pool",
        value: subnet.to_string(),
        reason: "bad prefix length".into(),
    })
}

/// The next address after the last one given that is neither allocated here nor used on
/// another host. A gateway (the host's own address on the network) may be one another host
/// uses too: each host routes its own.
fn next_free(pool: &Pool, gateway: bool, remote: &RemoteHosts) -> Result<IpAddr, IpamError> {
    let v6 = pool.subnet.addr().is_ipv6();
    if gateway {
        let (first, _) = usable_bounds(pool.subnet);
        let candidate = from_u128(first, v6);
        if !pool.allocations.contains_key(&candidate) {
            return Ok(candidate);
        }
    }
    let (first, last) = usable_bounds(pool.range.unwrap_or(pool.subnet));
    let size = last - first + 1;
    let start = pool
        .last_allocated
        .map(to_u128)
        .filter(|v| (first..=last).contains(v))
        .map_or(first, |v| if v == last { first } else { v + 1 });
    // Among allocations+remote+1 consecutive candidates at least one is free, so the walk
    // is short even in an IPv6 /64.
    let steps = size.min((pool.allocations.len() + remote.len()) as u128 + 1);
    (0..steps)
        .map(|i| first + (start - first + i) % size)
        .map(|v| from_u128(v, v6))
        .find(|a| !pool.allocations.contains_key(a) && !remote.contains(*a))
        .ok_or(IpamError::Exhausted {
            pool: pool.range.unwrap_or(pool.subnet),
            usable: size,
        })
}

pub fn release_address(draft: &mut Draft, pool_id: &str, address: IpAddr) -> Result<(), IpamError> {
    let pool = draft
        .state()
        .pools
        .get(pool_id)
        .ok_or_else(|| IpamError::UnknownPool(pool_id.into()))?;
    if !pool.allocations.contains_key(&address) {
        return Err(IpamError::NotAllocated {
            address,
            pool: pool.subnet,
        });
    }
    draft.record(Change::Released {
        pool: pool_id.into(),
        address,
    })?;
    Ok(())
}

/// The wharf pool whose subnet is exactly `subnet`, if any.
pub fn pool_for_subnet(state: &State, subnet: IpNet) -> Option<&Pool> {
    state.pools.values().find(|p| p.subnet == subnet)
}

#[cfg(test)]
#[path = "ipam_tests.rs"]
mod tests;
