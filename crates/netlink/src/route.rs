//! Routes: add (create or replace), delete, dump.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::address::check_prefix_len;
use crate::client::Netlink;
use crate::error::{tolerate, Result};
use crate::headers::RtHeader;
use crate::message::MessageWriter;
use crate::parse::{attributes, ip_value, split_header, u32_value, RawMessage};
use crate::uapi::{
    AF_INET, AF_INET6, NLM_F_CREATE, NLM_F_REPLACE, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC,
    RTA_TABLE, RTM_DELROUTE, RTM_GETROUTE, RTM_NEWROUTE, RTN_UNICAST, RTPROT_STATIC, RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RT_TABLE_UNSPEC,
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
    /// Routing table; 254 is main.
    pub table: u32,
    /// RTN_*: 1 = unicast.
    pub kind: u8,
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
        }
    }

    /// `destination/prefix_len via gateway [dev oif] proto static` in the main table.
    pub fn via(destination: IpAddr, prefix_len: u8, gateway: IpAddr, oif: Option<u32>) -> Route {
        Route {
            destination,
            prefix_len,
            oif,
            gateway: Some(gateway),
            source: None,
            protocol: RTPROT_STATIC,
            scope: RT_SCOPE_UNIVERSE,
            table: RT_TABLE_MAIN,
            kind: RTN_UNICAST,
        }
    }

    pub fn is_default(&self) -> bool {
        self.prefix_len == 0
    }
}

impl Netlink {
    /// Adds a route, replacing one with the same key (idempotent).
    pub fn add_route(&mut self, route: &Route) -> Result<()> {
        check_prefix_len(route.destination, route.prefix_len)?;
        self.execute(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &|m| {
            encode_route(m, route)
        })
    }

    /// Deletes a route; one already gone is success. The kernel matches on destination, table,
    /// oif, gateway and (when non-zero) protocol, so a route of another protocol with the same
    /// destination is left alone. Scope is not matched.
    pub fn delete_route(&mut self, route: &Route) -> Result<()> {
        check_prefix_len(route.destination, route.prefix_len)?;
        let key = Route {
            scope: RT_SCOPE_NOWHERE,
            ..route.clone()
        };
        let result = self.execute(RTM_DELROUTE, 0, &|m| encode_route(m, &key));
        tolerate(result, &[libc::ESRCH, libc::ENOENT])
    }

    /// Lists the main table's routes of one family.
    pub fn routes(&mut self, family: Family) -> Result<Vec<Route>> {
        let header = RtHeader {
            family: family.code(),
            ..Default::default()
        }
        .encode();
        self.dump(RTM_GETROUTE, &|m| m.header(&header), |m| {
            let route = decode_route(m)?;
            Ok(route.filter(|r| r.table == RT_TABLE_MAIN))
        })
    }
}

pub(crate) fn family_of(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

/// rtmsg + RTA_TABLE + RTA_DST (omitted for a default route) + RTA_OIF + RTA_GATEWAY +
/// RTA_PREFSRC.
pub(crate) fn encode_route(m: &mut MessageWriter<'_>, route: &Route) {
    // rtm_table is 8 bits; tables above 255 live only in RTA_TABLE, as iproute2 does it.
    let table = u8::try_from(route.table).unwrap_or(RT_TABLE_UNSPEC);
    m.header(
        &RtHeader {
            family: family_of(route.destination),
            dst_len: route.prefix_len,
            table,
            protocol: route.protocol,
            scope: route.scope,
            kind: route.kind,
            ..Default::default()
        }
        .encode(),
    );
    m.attr_u32(RTA_TABLE, route.table);
    if route.prefix_len > 0 {
        m.attr_ip(RTA_DST, route.destination);
    }
    if let Some(oif) = route.oif {
        m.attr_u32(RTA_OIF, oif);
    }
    if let Some(gateway) = route.gateway {
        m.attr_ip(RTA_GATEWAY, gateway);
    }
    if let Some(source) = route.source {
        m.attr_ip(RTA_PREFSRC, source);
    }
}

/// Decodes a route; `None` for families other than IPv4/IPv6.
pub(crate) fn decode_route(message: &RawMessage<'_>) -> Result<Option<Route>> {
    let (header, attrs) = split_header(message.payload, RtHeader::LEN, "route")?;
    let header = RtHeader::decode(header)?;
    let unspecified = match header.family {
        AF_INET => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        AF_INET6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => return Ok(None),
    };
    let mut route = Route {
        destination: unspecified,
        prefix_len: header.dst_len,
        oif: None,
        gateway: None,
        source: None,
        protocol: header.protocol,
        scope: header.scope,
        table: u32::from(header.table),
        kind: header.kind,
    };
    for attribute in attributes(attrs) {
        let attribute = attribute?;
        match attribute.kind {
            RTA_DST => route.destination = ip_value(header.family, &attribute)?,
            RTA_OIF => route.oif = Some(u32_value(&attribute)?),
            RTA_GATEWAY => route.gateway = Some(ip_value(header.family, &attribute)?),
            RTA_PREFSRC => route.source = Some(ip_value(header.family, &attribute)?),
            RTA_TABLE => route.table = u32_value(&attribute)?,
            _ => {}
        }
    }
    Ok(Some(route))
}
