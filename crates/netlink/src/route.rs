//! Routes: add (create or replace), create (fail if present), delete, dump (all of the
//! main table, or filtered by table and protocol). A route reaches its destination through a
//! device and/or gateway, through several weighted next hops (ECMP, RTA_MULTIPATH), or
//! through a nexthop object (RTA_NH_ID).

use std::net::IpAddr;

use crate::client::Netlink;
use crate::error::{tolerate, Error, Result};
use crate::route_codec::{decode_route, encode_route, encode_route_dump, encode_route_lookup};
use crate::uapi::{
    AF_INET, AF_INET6, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RTM_DELROUTE, RTM_GETROUTE,
    RTM_NEWROUTE, RTN_UNICAST, RTPROT_STATIC, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE,
    RT_TABLE_MAIN,
};

/// Address family of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) fn code(self) -> u8 {
        match self {
            Family::V4 => AF_INET,
            Family::V6 => AF_INET6,
        }
    }
}

/// A route. `destination`/`prefix_len` 0.0.0.0/0 or ::/0 is a default route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    pub destination: IpAddr,
    pub prefix_len: u8,
    /// Outgoing interface index.
    pub oif: Option<u32>,
    pub gateway: Option<IpAddr>,
    /// Preferred source address for traffic the host itself sends along the route
    /// (`ip route ... src ADDRESS`).
    pub source: Option<IpAddr>,
    /// RTPROT_*: who installed it (wharf uses 87).
    pub protocol: u8,
    /// RT_SCOPE_LINK (253) for a directly connected destination, RT_SCOPE_UNIVERSE (0) for one
    /// via a gateway.
    pub scope: u8,
    /// Routing table; 254 is main. Any id up to 2^32-1 (RTA_TABLE).
    pub table: u32,
    /// RTN_*: 1 = unicast.
    pub kind: u8,
    /// RTA_PRIORITY (`ip route ... metric N`). `None` on add means the kernel's default (0 for
    /// IPv4, 1024 for IPv6) and on delete "any metric". Part of a route's identity: two IPv6
    /// routes to one destination with different metrics are two routes.
    pub metric: Option<u32>,
    /// RTA_NH_ID: the route forwards through this nexthop object (or group), and names no
    /// device, gateway or next hops of its own. Dumps list such a route with only the id
    /// (the kernel also expands the object, for old tools; that copy is dropped here).
    pub nexthop_id: Option<u32>,
    /// RTA_MULTIPATH: several next hops the kernel spreads flows over (ECMP). Empty for a
    /// single-path route, which uses `oif`/`gateway` instead.
    pub next_hops: Vec<MultipathHop>,
}

/// One path of a multipath route (`nexthop via GATEWAY dev DEVICE weight W`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipathHop {
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    /// 1-256: the path's share of flows relative to the others.
    pub weight: u16,
}

impl MultipathHop {
    /// A path through `gateway` (on `oif` if given), weight 1.
    pub fn via(gateway: IpAddr, oif: Option<u32>) -> MultipathHop {
        MultipathHop {
            gateway: Some(gateway),
            oif,
            weight: 1,
        }
    }

    /// A path straight out of device `oif`, weight 1.
    pub fn device(oif: u32) -> MultipathHop {
        MultipathHop {
            gateway: None,
            oif: Some(oif),
            weight: 1,
        }
    }
}

impl Route {
    /// `destination/prefix_len dev oif scope link proto protocol` in the main table.
    pub fn connected(destination: IpAddr, prefix_len: u8, oif: u32, protocol: u8) -> Route {
        Route {
            destination,
            prefix_len,
            oif: Some(oif),
            gateway: None,
            source: None,
            protocol,
            scope: RT_SCOPE_LINK,
            table: RT_TABLE_MAIN,
            kind: RTN_UNICAST,
            metric: None,
            nexthop_id: None,
            next_hops: Vec::new(),
        }
    }

    /// `destination/prefix_len via gateway [dev oif] proto static` in the main table.
    pub fn via(destination: IpAddr, prefix_len: u8, gateway: IpAddr, oif: Option<u32>) -> Route {
        Route {
            gateway: Some(gateway),
            oif,
            protocol: RTPROT_STATIC,
            scope: RT_SCOPE_UNIVERSE,
            ..Route::connected(destination, prefix_len, 0, RTPROT_STATIC)
        }
    }

    /// `destination/prefix_len nhid ID proto protocol` in the main table: forwarding
    /// through a nexthop object (see [`Netlink::add_nexthop`]).
    pub fn with_nexthop(destination: IpAddr, prefix_len: u8, id: u32, protocol: u8) -> Route {
        Route {
            oif: None,
            scope: RT_SCOPE_UNIVERSE,
            nexthop_id: Some(id),
            ..Route::connected(destination, prefix_len, 0, protocol)
        }
    }

    /// `destination/prefix_len nexthop ... nexthop ... proto protocol` in the main table.
    pub fn multipath(
        destination: IpAddr,
        prefix_len: u8,
        next_hops: Vec<MultipathHop>,
        protocol: u8,
    ) -> Route {
        Route {
            oif: None,
            scope: RT_SCOPE_UNIVERSE,
            next_hops,
            ..Route::connected(destination, prefix_len, 0, protocol)
        }
    }

    pub fn is_default(&self) -> bool {
        self.prefix_len == 0
    }
}

/// Which routes a dump returns: one family, optionally one table, optionally one protocol.
/// `RouteFilter { protocol: Some(87), ..RouteFilter::all(Family::V4) }` lists exactly the
/// routes of protocol 87 in every table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteFilter {
    pub family: Family,
    pub table: Option<u32>,
    pub protocol: Option<u8>,
}

impl RouteFilter {
    /// Every route of `family`, in every table.
    pub fn all(family: Family) -> RouteFilter {
        RouteFilter {
            family,
            table: None,
            protocol: None,
        }
    }

    fn matches(&self, route: &Route) -> bool {
        self.table.is_none_or(|table| route.table == table)
            && self
                .protocol
                .is_none_or(|protocol| route.protocol == protocol)
    }
}

impl Netlink {
    /// Adds a route, replacing one with the same key (idempotent). For a multipath route the
    /// replacement swaps the whole set of next hops.
    pub fn add_route(&mut self, route: &Route) -> Result<()> {
        check_route(route)?;
        self.execute(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &|m| {
            encode_route(m, route)
        })
    }

    /// Adds a route that must not exist yet: one with the same key is an error for which
    /// [`Error::is_exists`] holds.
    pub fn create_route(&mut self, route: &Route) -> Result<()> {
        check_route(route)?;
        self.execute(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &|m| {
            encode_route(m, route)
        })
    }

    /// Deletes a route; one already gone is success. The kernel matches on destination, table,
    /// oif, gateway, next hops, nexthop id and (when set) metric and (when non-zero)
    /// protocol, so a route of another protocol with the same destination is left alone.
    /// Scope is not matched.
    pub fn delete_route(&mut self, route: &Route) -> Result<()> {
        check_route(route)?;
        let key = delete_key(route);
        let result = self.execute(RTM_DELROUTE, 0, &|m| encode_route(m, &key));
        tolerate(result, &[libc::ESRCH, libc::ENOENT])
    }

    /// The route the kernel would use to reach `destination` (`ip route get`): its device
    /// in `oif`, its gateway when the destination is not directly connected. Answers
    /// ENETUNREACH (or EHOSTUNREACH) when nothing leads there.
    pub fn route_to(&mut self, destination: IpAddr) -> Result<Route> {
        let found = self.get(
            RTM_GETROUTE,
            &|m| encode_route_lookup(m, destination),
            decode_route,
        )?;
        found.ok_or_else(|| Error::malformed("route lookup answered with another family"))
    }

    /// Lists the main table's routes of one family.
    pub fn routes(&mut self, family: Family) -> Result<Vec<Route>> {
        self.routes_matching(RouteFilter {
            table: Some(RT_TABLE_MAIN),
            ..RouteFilter::all(family)
        })
    }

    /// Lists the routes `filter` selects. The kernel filters by itself (the socket asks for
    /// strict dump checking); the result is filtered again here, for kernels that ignore it.
    pub fn routes_matching(&mut self, filter: RouteFilter) -> Result<Vec<Route>> {
        let listed = self.dump(RTM_GETROUTE, &|m| encode_route_dump(m, &filter), |m| {
            Ok(decode_route(m)?.filter(|route| filter.matches(route)))
        });
        match listed {
            // A dump of one table answers ENOENT while the kernel has not made that table
            // yet (a fresh namespace's main table, before its first route): it is empty.
            Err(error) if filter.table.is_some() && error.errno() == Some(libc::ENOENT) => {
                Ok(Vec::new())
            }
            other => other,
        }
    }
}

/// The route as a delete request names it: scope "nowhere" matches any scope.
pub(crate) fn delete_key(route: &Route) -> Route {
    Route {
        scope: RT_SCOPE_NOWHERE,
        ..route.clone()
    }
}

pub(crate) fn family_of(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

/// Refuses, before anything is sent, what the kernel would refuse with a bare EINVAL.
pub(crate) fn check_route(route: &Route) -> Result<()> {
    crate::address::check_prefix_len(route.destination, route.prefix_len)?;
    let same_family = |address: IpAddr| address.is_ipv4() == route.destination.is_ipv4();
    let invalid = |problem: &str| {
        Err(Error::Invalid(format!(
            "route {}/{}: {problem}",
            route.destination, route.prefix_len
        )))
    };
    if route.nexthop_id.is_some()
        && (route.oif.is_some() || route.gateway.is_some() || !route.next_hops.is_empty())
    {
        return invalid("a route through a nexthop object names no device, gateway or next hops");
    }
    if !route.next_hops.is_empty() && (route.oif.is_some() || route.gateway.is_some()) {
        return invalid("a multipath route keeps its devices and gateways in its next hops");
    }
    if route.gateway.is_some_and(|g| !same_family(g)) {
        return invalid("the gateway is of another address family");
    }
    for hop in &route.next_hops {
        if !(1..=256).contains(&hop.weight) {
            return invalid("next hop weights are 1-256");
        }
        if hop.gateway.is_some_and(|g| !same_family(g)) {
            return invalid("a next hop's gateway is of another address family");
        }
        if hop.gateway.is_none() && hop.oif.is_none() {
            return invalid("a next hop needs a gateway or a device");
        }
    }
    Ok(())
}
