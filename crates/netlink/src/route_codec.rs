//! [`Route`] to and from `netlink-packet-route`'s `RouteMessage` (struct rtmsg and RTA_*
//! attributes).

use std::net::IpAddr;

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteNextHop,
};
use netlink_packet_route::AddressFamily;

use crate::error::Result;
use crate::message::MessageWriter;
use crate::parse::{parse_body, RawMessage};
use crate::route::{MultipathHop, Route, RouteFilter};
use crate::uapi::{AF_INET, AF_INET6, RT_TABLE_UNSPEC};

/// rtmsg + RTA_TABLE + RTA_DST (omitted for a default route) + RTA_OIF + RTA_GATEWAY +
/// RTA_PREFSRC + RTA_PRIORITY + RTA_NH_ID + RTA_MULTIPATH, each only when set. The order is
/// the one the byte-exact tests pin down.
pub(crate) fn encode_route(m: &mut MessageWriter<'_>, route: &Route) {
    m.emit(&route_message(route));
}

pub(crate) fn route_message(route: &Route) -> RouteMessage {
    let mut message = RouteMessage::default();
    fill_route_message(&mut message, route);
    message
}

/// Overwrites `message` with `route` (keeping the attribute list's allocation).
pub(crate) fn fill_route_message(message: &mut RouteMessage, route: &Route) {
    message.header = route_header(route.destination, route.prefix_len, route.table);
    message.header.protocol = route.protocol.into();
    message.header.scope = route.scope.into();
    message.header.kind = route.kind.into();
    let attributes = &mut message.attributes;
    attributes.clear();
    attributes.push(RouteAttribute::Table(route.table));
    if route.prefix_len > 0 {
        attributes.push(RouteAttribute::Destination(route.destination.into()));
    }
    if let Some(oif) = route.oif {
        attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(gateway) = route.gateway {
        attributes.push(RouteAttribute::Gateway(gateway.into()));
    }
    if let Some(source) = route.source {
        attributes.push(RouteAttribute::PrefSource(source.into()));
    }
    if let Some(metric) = route.metric {
        attributes.push(RouteAttribute::Priority(metric));
    }
    if let Some(id) = route.nexthop_id {
        attributes.push(RouteAttribute::NhId(id));
    }
    if !route.next_hops.is_empty() {
        let hops = route.next_hops.iter().map(rtnexthop).collect();
        attributes.push(RouteAttribute::MultiPath(hops));
    }
}

fn route_header(destination: IpAddr, prefix_len: u8, table: u32) -> RouteHeader {
    RouteHeader {
        address_family: address_family(crate::route::family_of(destination)),
        destination_prefix_length: prefix_len,
        // rtm_table is 8 bits; tables above 255 live only in RTA_TABLE, as iproute2 does it.
        table: u8::try_from(table).unwrap_or(RT_TABLE_UNSPEC),
        ..Default::default()
    }
}

/// `struct rtnexthop`: rtnh_hops carries weight - 1; a gateway rides inside as RTA_GATEWAY.
fn rtnexthop(hop: &MultipathHop) -> RouteNextHop {
    let mut encoded = RouteNextHop::default();
    encoded.hops = u8::try_from(hop.weight.saturating_sub(1)).unwrap_or(u8::MAX);
    encoded.interface_index = hop.oif.unwrap_or(0);
    if let Some(gateway) = hop.gateway {
        encoded
            .attributes
            .push(RouteAttribute::Gateway(gateway.into()));
    }
    encoded
}

/// The body of a route dump request: the family, and for strict-checking kernels the table
/// (rtm_table, or RTA_TABLE above 255) and protocol to keep.
pub(crate) fn encode_route_dump(m: &mut MessageWriter<'_>, filter: &RouteFilter) {
    let mut message = RouteMessage::default();
    message.header.address_family = address_family(filter.family.code());
    if let Some(table) = filter.table {
        message.header.table = u8::try_from(table).unwrap_or(RT_TABLE_UNSPEC);
        if table > 255 {
            message.attributes.push(RouteAttribute::Table(table));
        }
    }
    if let Some(protocol) = filter.protocol {
        message.header.protocol = protocol.into();
    }
    m.emit(&message);
}

/// A lookup (`ip route get DESTINATION`): the destination as a full-length prefix.
pub(crate) fn encode_route_lookup(m: &mut MessageWriter<'_>, destination: IpAddr) {
    let mut message = RouteMessage::default();
    message.header.address_family = address_family(crate::route::family_of(destination));
    message.header.destination_prefix_length = match destination {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    message
        .attributes
        .push(RouteAttribute::Destination(destination.into()));
    m.emit(&message);
}

/// Decodes a route; `None` for families other than IPv4/IPv6.
pub(crate) fn decode_route(message: &RawMessage<'_>) -> Result<Option<Route>> {
    let decoded: RouteMessage = parse_body(message.payload, "route")?;
    Ok(route_from(&decoded))
}

pub(crate) fn route_from(message: &RouteMessage) -> Option<Route> {
    let header = &message.header;
    let unspecified: IpAddr = match u8::from(header.address_family) {
        AF_INET => std::net::Ipv4Addr::UNSPECIFIED.into(),
        AF_INET6 => std::net::Ipv6Addr::UNSPECIFIED.into(),
        _ => return None,
    };
    let mut route = Route {
        protocol: header.protocol.into(),
        scope: header.scope.into(),
        kind: header.kind.into(),
        table: u32::from(header.table),
        ..Route::connected(unspecified, header.destination_prefix_length, 0, 0)
    };
    route.oif = None;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(address) => {
                if let Some(address) = ip_of(address) {
                    route.destination = address;
                }
            }
            RouteAttribute::Oif(oif) => route.oif = Some(*oif),
            RouteAttribute::Gateway(address) => route.gateway = ip_of(address),
            RouteAttribute::PrefSource(address) => route.source = ip_of(address),
            RouteAttribute::Table(table) => route.table = *table,
            RouteAttribute::Priority(metric) => route.metric = Some(*metric),
            RouteAttribute::NhId(id) => route.nexthop_id = Some(*id),
            RouteAttribute::MultiPath(hops) => {
                route.next_hops = hops.iter().map(next_hop_from).collect();
            }
            _ => {}
        }
    }
    if route.nexthop_id.is_some() {
        // The kernel's expansion of the nexthop object, listed for tools that predate
        // nexthop objects (net.ipv4.nexthop_compat_mode): not part of the route as added.
        route.oif = None;
        route.gateway = None;
        route.next_hops.clear();
    }
    Some(route)
}

fn next_hop_from(hop: &RouteNextHop) -> MultipathHop {
    let gateway = hop.attributes.iter().find_map(|attribute| match attribute {
        RouteAttribute::Gateway(address) => ip_of(address),
        _ => None,
    });
    MultipathHop {
        gateway,
        oif: Some(hop.interface_index).filter(|&index| index != 0),
        weight: u16::from(hop.hops) + 1,
    }
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

pub(crate) fn address_family(code: u8) -> AddressFamily {
    AddressFamily::from(code)
}
