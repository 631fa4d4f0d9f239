//! [`Rule`] to and from `netlink-packet-route`'s `RuleMessage` (struct fib_rule_hdr and FRA_*
//! attributes).

use std::net::IpAddr;

use netlink_packet_route::route::RouteProtocol;
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleHeader, RuleMessage};

use crate::error::{Error, Result};
use crate::message::MessageWriter;
use crate::parse::{parse_body, RawMessage};
use crate::route::Family;
use crate::route_codec::address_family;
use crate::rule::Rule;
use crate::uapi::{AF_INET, AF_INET6, RT_TABLE_UNSPEC};

/// fib_rule_hdr + FRA_PRIORITY + FRA_SRC + FRA_DST + FRA_TABLE + FRA_PROTOCOL +
/// FRA_SUPPRESS_PREFIXLEN, each only when set but FRA_TABLE, always sent: iproute2 6.1's
/// order for `ip rule add`. A /0 prefix is sent as none.
pub(crate) fn encode_rule(m: &mut MessageWriter<'_>, rule: &Rule) {
    m.emit(&rule_message(rule));
}

pub(crate) fn rule_message(rule: &Rule) -> RuleMessage {
    let selector = |prefix: Option<(IpAddr, u8)>| prefix.filter(|&(_, len)| len > 0);
    let destination = selector(rule.destination);
    let source = selector(rule.source);
    let mut message = RuleMessage::default();
    message.header = RuleHeader {
        family: address_family(rule.family.code()),
        dst_len: destination.map_or(0, |(_, len)| len),
        src_len: source.map_or(0, |(_, len)| len),
        // fib_rule_hdr.table is 8 bits; tables above 255 live only in FRA_TABLE, as iproute2
        // does it.
        table: u8::try_from(rule.table).unwrap_or(RT_TABLE_UNSPEC),
        action: RuleAction::from(rule.action),
        ..Default::default()
    };
    let attributes = &mut message.attributes;
    if let Some(priority) = rule.priority {
        attributes.push(RuleAttribute::Priority(priority));
    }
    if let Some((address, _)) = source {
        attributes.push(RuleAttribute::Source(address));
    }
    if let Some((address, _)) = destination {
        attributes.push(RuleAttribute::Destination(address));
    }
    attributes.push(RuleAttribute::Table(rule.table));
    if let Some(protocol) = rule.protocol {
        attributes.push(RuleAttribute::Protocol(RouteProtocol::from(protocol)));
    }
    if let Some(length) = rule.suppress_prefixlen {
        attributes.push(RuleAttribute::SuppressPrefixLen(length));
    }
    message
}

/// The body of a rule dump request: the family alone (a strict-checking kernel refuses any
/// other header field or attribute in a rule dump request).
pub(crate) fn encode_rule_dump(m: &mut MessageWriter<'_>, family: Family) {
    let mut message = RuleMessage::default();
    message.header.family = address_family(family.code());
    m.emit(&message);
}

/// Decodes a rule; `None` for families other than IPv4/IPv6. Attributes this crate does not
/// represent are skipped; a prefix longer than its family's addresses, or an address of the
/// other family, is an error.
pub(crate) fn decode_rule(message: &RawMessage<'_>) -> Result<Option<Rule>> {
    let decoded: RuleMessage = parse_body(message.payload, "rule")?;
    rule_from(&decoded)
}

pub(crate) fn rule_from(message: &RuleMessage) -> Result<Option<Rule>> {
    let header = &message.header;
    let (family, max_len) = match u8::from(header.family) {
        AF_INET => (Family::V4, 32),
        AF_INET6 => (Family::V6, 128),
        _ => return Ok(None),
    };
    let mut rule = Rule {
        family,
        // The kernel leaves FRA_PRIORITY out of the rule of priority 0.
        priority: Some(0),
        table: u32::from(header.table),
        protocol: None,
        action: header.action.into(),
        destination: None,
        source: None,
        suppress_prefixlen: None,
    };
    for attribute in &message.attributes {
        match attribute {
            RuleAttribute::Priority(priority) => rule.priority = Some(*priority),
            RuleAttribute::Table(table) => rule.table = *table,
            RuleAttribute::Protocol(protocol) => rule.protocol = Some((*protocol).into()),
            RuleAttribute::Destination(address) => {
                rule.destination = Some((*address, header.dst_len));
            }
            RuleAttribute::Source(address) => rule.source = Some((*address, header.src_len)),
            // The kernel lists "not set" as u32::MAX.
            RuleAttribute::SuppressPrefixLen(length) => {
                rule.suppress_prefixlen = Some(*length).filter(|&l| l != u32::MAX);
            }
            _ => {}
        }
    }
    for (what, length, selector) in [
        ("destination", header.dst_len, rule.destination),
        ("source", header.src_len, rule.source),
    ] {
        let wrong_family =
            selector.is_some_and(|(address, _)| address.is_ipv4() != (family == Family::V4));
        if length > max_len || wrong_family || (length > 0 && selector.is_none()) {
            return Err(Error::malformed(format!(
                "rule {what}: prefix length {length} with address {:?} in a {family:?} rule",
                selector.map(|(address, _)| address)
            )));
        }
    }
    Ok(Some(rule))
}
