//! NAT for wharf's "nat" networks (Open vSwitch bridges the host routes for): masquerade of
//! their traffic leaving for elsewhere, and published ports, as the nftables table
//! `inet wharf_nat` holds them.
//!
//! The table's chains never change; only the elements of its sets and maps do, so a change
//! (one endpoint's ports, one network) costs a few elements whatever else the table holds:
//! - `net4`/`net6`: the subnets of masquerade networks.
//! - `own4`/`own6` (`subnet . bridge`): a network's traffic leaving through its own bridge,
//!   which is not masqueraded (Docker's `! -o BRIDGE`).
//! - `inner4`/`inner6` (`subnet . subnet`): traffic within a network; not masqueraded, except
//!   when it was DNATed (hairpin: a container reaching a published port of its own network
//!   must see the answer come from the address it asked, so the host must stay in the path).
//! - `any4`/`any6` (`protocol . port -> container address . port`): ports published on every
//!   local address of the family; `at4`/`at6` (`host address . protocol . port -> ...`):
//!   ports published on one address, looked up first.
//!
//! Chains: `prerouting` (traffic from elsewhere) and `output` (connections the host opens)
//! send traffic to a local address through `published`, which DNATs it with the maps;
//! `postrouting` masquerades. Connections from the host to 127.0.0.1 work because the sync
//! sets `route_localnet` on the bridges and `postrouting` masquerades their loopback source.
//!
//! Two endpoints cannot hold the same key of a map (nor two networks overlapping subnets of an
//! interval set: nftables refuses the transaction). Whatever comes first by ID wins; the rest
//! is left out of the table, and [`conflicts`] lists it so the engine can refuse it first.
//!
//! Every change is one nftables transaction (one `nft -f` script). This module writes the
//! scripts; [`super::linux`] runs them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;

use ipnet::IpNet;

/// The nftables table wharf owns for NAT (family `inet`).
pub const NAT_TABLE: &str = "wharf_nat";

/// What wharf's NAT table holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nat {
    /// Networks whose containers reach other destinations with the host's address, by network ID.
    pub masquerade: BTreeMap<String, Masquerade>,
    /// Published ports, by endpoint ID.
    pub published: BTreeMap<String, Vec<PublishedPort>>,
}

impl Nat {
    /// Nothing to masquerade and no published port: the table is not needed.
    pub fn is_empty(&self) -> bool {
        self.masquerade.is_empty() && self.published.values().all(Vec::is_empty)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masquerade {
    /// The network's subnets (IPv4 and/or IPv6; host bits may be set: truncate them).
    pub prefixes: Vec<IpNet>,
    /// The network's bridge interface: traffic leaving through it (to its own containers) is not masqueraded.
    pub bridge: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The name nftables (and Docker's port maps) use.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    /// The protocol of an IP protocol number (Docker's libnetwork sends numbers).
    pub fn from_number(number: u8) -> Option<Protocol> {
        match number {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublishedPort {
    pub protocol: Protocol,
    /// The host address the port is bound to; None: every local address of the container's family.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
}

/// Something of a [`Nat`] the table leaves out, because it cannot hold it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Conflict {
    /// `endpoint`'s `port` needs a (protocol, host address, host port) that `holder` (an
    /// endpoint first by ID, or the same endpoint) already has. A port bound to every
    /// address collides with the same port bound to one address of the family.
    Port {
        endpoint: String,
        port: PublishedPort,
        holder: String,
    },
    /// `endpoint`'s `port` is bound to a host address of the other family than its
    /// container's: NAT cannot translate between families.
    Families {
        endpoint: String,
        port: PublishedPort,
    },
    /// `network`'s `prefix` overlaps a subnet of `holder` (a masquerade network first by ID,
    /// or the same network).
    Subnet {
        network: String,
        prefix: IpNet,
        holder: String,
    },
    /// `network`'s bridge name is not an interface name nftables (or Linux) takes: the
    /// network is left out whole, since without its bridge its own traffic would be
    /// masqueraded.
    Bridge { network: String, bridge: String },
}

/// What the table leaves out of `nat`, in the order it meets it (networks, then endpoints, by
/// ID). Empty when the whole of `nat` fits.
pub fn conflicts(nat: &Nat) -> Vec<Conflict> {
    layout(nat).1
}

/// Whether `name` is an interface name Linux takes (at most 15 bytes, no '/', ':' or blank)
/// made only of characters that need no quoting in a script or a path.
pub(crate) fn usable_bridge(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() < 16
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'))
}

/// The bridges of `nat`'s masquerade networks that the table uses (whose `route_localnet`
/// must be on for 127.0.0.1 to reach their containers).
pub fn bridges(nat: &Nat) -> Vec<&str> {
    let names: BTreeSet<&str> = nat
        .masquerade
        .values()
        .map(|m| m.bridge.as_str())
        .filter(|b| usable_bridge(b))
        .collect();
    names.into_iter().collect()
}

/// The elements of the table's sets and maps: set name -> key -> value (maps) or "" (sets).
type Elements = BTreeMap<&'static str, BTreeMap<String, String>>;

/// Every set and map of the table with its nftables type.
const SETS: [(&str, &str, bool); 10] = [
    ("net4", "ipv4_addr", true),
    ("net6", "ipv6_addr", true),
    ("own4", "ipv4_addr . ifname", true),
    ("own6", "ipv6_addr . ifname", true),
    ("inner4", "ipv4_addr . ipv4_addr", true),
    ("inner6", "ipv6_addr . ipv6_addr", true),
    (
        "any4",
        "inet_proto . inet_service : ipv4_addr . inet_service",
        false,
    ),
    (
        "any6",
        "inet_proto . inet_service : ipv6_addr . inet_service",
        false,
    ),
    (
        "at4",
        "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
        false,
    ),
    (
        "at6",
        "ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service",
        false,
    ),
];

/// The host addresses (None: every address) a port is held on, and by which endpoint.
type Holders<'a> = Vec<(Option<IpAddr>, &'a str)>;

/// The table's elements for `nat`, and what had to be left out.
fn layout(nat: &Nat) -> (Elements, Vec<Conflict>) {
    let mut elements = Elements::new();
    let mut conflicts = Vec::new();
    let mut add = |set: &'static str, key: String, value: String| {
        elements.entry(set).or_default().insert(key, value);
    };

    // Subnets: each prefix of the table's interval sets belongs to one network.
    let mut claimed: Vec<(IpNet, &str)> = Vec::new();
    for (id, masquerade) in &nat.masquerade {
        if !usable_bridge(&masquerade.bridge) {
            conflicts.push(Conflict::Bridge {
                network: id.clone(),
                bridge: masquerade.bridge.clone(),
            });
            continue;
        }
        let prefixes: BTreeSet<IpNet> = masquerade.prefixes.iter().map(IpNet::trunc).collect();
        for prefix in prefixes {
            let overlap = claimed
                .iter()
                .find(|(p, _)| p.contains(&prefix) || prefix.contains(p));
            if let Some((_, holder)) = overlap {
                conflicts.push(Conflict::Subnet {
                    network: id.clone(),
                    prefix,
                    holder: (*holder).to_owned(),
                });
                continue;
            }
            claimed.push((prefix, id));
            let family = if prefix.addr().is_ipv4() { "4" } else { "6" };
            let bridge = &masquerade.bridge;
            add(set("net", family), prefix.to_string(), String::new());
            add(
                set("own", family),
                format!("{prefix} . \"{bridge}\""),
                String::new(),
            );
            add(
                set("inner", family),
                format!("{prefix} . {prefix}"),
                String::new(),
            );
        }
    }

    // Ports: (IPv6?, protocol, host port) -> the host addresses (None: all) holding it.
    let mut held: BTreeMap<(bool, Protocol, u16), Holders> = BTreeMap::new();
    for (id, ports) in &nat.published {
        let ports: BTreeSet<&PublishedPort> = ports.iter().collect();
        for port in ports {
            let v6 = port.container_ip.is_ipv6();
            // An unspecified address (0.0.0.0, ::) is how Docker says "every address".
            let host_ip = port.host_ip.filter(|a| !a.is_unspecified());
            if port.host_ip.is_some_and(|a| a.is_ipv6() != v6) {
                conflicts.push(Conflict::Families {
                    endpoint: id.clone(),
                    port: port.clone(),
                });
                continue;
            }
            let holders = held.entry((v6, port.protocol, port.host_port)).or_default();
            let taken = holders
                .iter()
                .find(|(a, _)| a.is_none() || host_ip.is_none() || *a == host_ip);
            if let Some((_, holder)) = taken {
                conflicts.push(Conflict::Port {
                    endpoint: id.clone(),
                    port: port.clone(),
                    holder: (*holder).to_owned(),
                });
                continue;
            }
            holders.push((host_ip, id));
            let family = if v6 { "6" } else { "4" };
            let proto = port.protocol.name();
            let value = format!("{} . {}", port.container_ip, port.container_port);
            match host_ip {
                None => add(
                    set("any", family),
                    format!("{proto} . {}", port.host_port),
                    value,
                ),
                Some(address) => add(
                    set("at", family),
                    format!("{address} . {proto} . {}", port.host_port),
                    value,
                ),
            }
        }
    }
    (elements, conflicts)
}

/// The name of set or map `base` ("net", "own", "inner", "any", "at") for a family.
fn set(base: &str, family: &str) -> &'static str {
    match (base, family) {
        ("net", "4") => "net4",
        ("net", _) => "net6",
        ("own", "4") => "own4",
        ("own", _) => "own6",
        ("inner", "4") => "inner4",
        ("inner", _) => "inner6",
        ("any", "4") => "any4",
        ("any", _) => "any6",
        (_, "4") => "at4",
        _ => "at6",
    }
}

/// The table's fixed part: its sets, maps and chains, without elements.
fn skeleton() -> String {
    let mut script = format!(
        "table inet {NAT_TABLE} {{\n  comment \"wharf: masquerade and published ports of \
         wharf's networks; changed only by wharf\"\n"
    );
    for (name, kind, interval) in SETS.iter() {
        let what = if kind.contains(':') { "map" } else { "set" };
        let flags = if *interval { " flags interval;" } else { "" };
        let _ = writeln!(script, "  {what} {name} {{ type {kind};{flags} }}");
    }
    script.push_str(
        "  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump published
  }
  chain output {
    type nat hook output priority -100; policy accept;
    fib daddr type local jump published
  }
  chain published {
    meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @at4
    meta nfproto ipv4 dnat ip to meta l4proto . th dport map @any4
    meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @at6
    meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @any6
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ct status dnat ip saddr 127.0.0.0/8 masquerade
    ct status dnat ip saddr . ip daddr @inner4 masquerade
    ct status dnat ip6 saddr . ip6 daddr @inner6 masquerade
    ip saddr . oifname @own4 return
    ip6 saddr . oifname @own6 return
    ip saddr . ip daddr @inner4 return
    ip6 saddr . ip6 daddr @inner6 return
    ip saddr @net4 masquerade
    ip6 saddr @net6 masquerade
  }
}
",
    );
    script
}

/// A script that replaces the whole table by one holding `nat` (empty: no table at all).
pub fn full_script(nat: &Nat) -> String {
    // Declaring the table first makes the delete valid whether or not it exists.
    let mut script = format!("add table inet {NAT_TABLE}\ndelete table inet {NAT_TABLE}\n");
    if nat.is_empty() {
        return script;
    }
    script.push_str(&skeleton());
    elements_script(&mut script, &Elements::new(), &layout(nat).0);
    script
}

/// A script that changes a table holding `old` into one holding `new`, touching only the
/// elements that differ; None when there is nothing to change. An empty `old` means no table:
/// the script is then [`full_script`] of `new`.
pub fn change_script(old: &Nat, new: &Nat) -> Option<String> {
    match (old.is_empty(), new.is_empty()) {
        (true, true) => return None,
        (_, true) | (true, _) => return Some(full_script(new)),
        _ => {}
    }
    let mut script = String::new();
    elements_script(&mut script, &layout(old).0, &layout(new).0);
    Some(script).filter(|s| !s.is_empty())
}

/// Deletes the elements of `old` that `new` lacks or maps elsewhere, then adds the ones of
/// `new` that `old` lacks: deletions first, so a key that moves never exists twice.
fn elements_script(script: &mut String, old: &Elements, new: &Elements) {
    let none = BTreeMap::new();
    for (name, _, _) in SETS.iter() {
        let before = old.get(name).unwrap_or(&none);
        let after = new.get(name).unwrap_or(&none);
        // A map's element is deleted by its key alone.
        let gone: Vec<&str> = before
            .iter()
            .filter(|(k, v)| after.get(*k) != Some(v))
            .map(|(k, _)| k.as_str())
            .collect();
        if !gone.is_empty() {
            let _ = writeln!(
                script,
                "delete element inet {NAT_TABLE} {name} {{ {} }}",
                gone.join(", ")
            );
        }
    }
    for (name, _, _) in SETS.iter() {
        let before = old.get(name).unwrap_or(&none);
        let after = new.get(name).unwrap_or(&none);
        let came: Vec<String> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(v))
            .map(|(k, v)| match v.is_empty() {
                true => k.clone(),
                false => format!("{k} : {v}"),
            })
            .collect();
        if !came.is_empty() {
            let _ = writeln!(
                script,
                "add element inet {NAT_TABLE} {name} {{ {} }}",
                came.join(", ")
            );
        }
    }
}

#[cfg(test)]
#[path = "nat_tests.rs"]
mod tests;
