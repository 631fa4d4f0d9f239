//! Import policy: which learned routes may reach the RIB (and so the kernel). The defaults
//! keep a peer from taking the host over: no default route unless the peer's configuration
//! allows one, no prefix that covers one of the host's own addresses, no route for a prefix
//! this host announces itself, nothing that loops back (our AS in the path, our router ID
//! as originator, one of our addresses as next hop), and nothing whose next hop the kernel
//! could not forward through as this speaker would install it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

/// A peer's own import settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerImport {
    /// Accept 0.0.0.0/0 and ::/0 from this peer.
    pub allow_default: bool,
    /// When not empty, only prefixes inside one of these, with a length in the range, pass.
    pub only: Vec<PrefixFilter>,
}

/// What this host sends one peer, beyond the defaults (only its own prefixes, never what
/// it learned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerExport {
    /// When not empty, only prefixes inside one of these, with a length in the range, go.
    pub only: Vec<PrefixFilter>,
    /// Attached to every route sent (RFC 1997 COMMUNITIES), e.g. for the peer's policy.
    pub communities: Vec<crate::wire::Community>,
}

impl PeerExport {
    pub fn allows(&self, prefix: &IpNet) -> bool {
        self.only.is_empty() || self.only.iter().any(|f| f.matches(prefix))
    }

    /// How many of `prefixes` the peer is sent.
    pub fn count_allowed(&self, prefixes: &[IpNet]) -> usize {
        prefixes.iter().filter(|p| self.allows(p)).count()
    }
}

/// A prefix and the lengths allowed inside it (`10.0.0.0/8 le 32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixFilter {
    pub prefix: IpNet,
    pub min_len: u8,
    pub max_len: u8,
}

impl PrefixFilter {
    pub fn matches(&self, candidate: &IpNet) -> bool {
        self.prefix.contains(candidate)
            && (self.min_len..=self.max_len).contains(&candidate.prefix_len())
    }
}

/// What import checks need of the speaker.
pub struct ImportContext<'a> {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    /// The host's own addresses (not the containers'): no learned prefix may cover one.
    pub protected: &'a [IpAddr],
    /// Prefixes this host announces.
    pub local: &'a BTreeSet<IpNet>,
}

/// Facts of one learned route that the checks look at.
pub struct Candidate<'a> {
    pub prefix: IpNet,
    pub next_hop: IpAddr,
    pub as_path: &'a [u32],
    pub originator_id: Option<Ipv4Addr>,
}

/// Why a route is refused; None: accepted.
pub fn refuse(
    ctx: &ImportContext<'_>,
    peer: &PeerImport,
    route: &Candidate<'_>,
) -> Option<&'static str> {
    if let Some(reason) = unusable_next_hop(&route.prefix, route.next_hop) {
        return Some(reason);
    }
    if route.prefix.prefix_len() == 0 && !peer.allow_default {
        return Some("a default route, which this peer is not allowed to give");
    }
    // A default route covers everything; allowed above, it is not "covering" the host.
    let default = route.prefix.prefix_len() == 0;
    if !default && ctx.protected.iter().any(|a| route.prefix.contains(a)) {
        return Some("it covers one of this host's own addresses");
    }
    if ctx.protected.contains(&route.next_hop) {
        return Some("its next hop is this host");
    }
    if ctx.local.contains(&route.prefix) {
        return Some("this host announces that prefix itself");
    }
    if route.as_path.contains(&ctx.local_as) {
        return Some("our AS is in its AS_PATH (a loop)");
    }
    if route.originator_id == Some(ctx.router_id) {
        return Some("we originated it (ORIGINATOR_ID is ours)");
    }
    if !peer.only.is_empty() && !peer.only.iter().any(|f| f.matches(&route.prefix)) {
        return Some("outside this peer's import filter");
    }
    None
}

/// Why the kernel could not forward `prefix` through `next_hop` as installed here; None: it can.
fn unusable_next_hop(prefix: &IpNet, next_hop: IpAddr) -> Option<&'static str> {
    if next_hop.is_unspecified() || next_hop.is_multicast() || next_hop.is_loopback() {
        return Some("its next hop is not a router's address (unspecified, loopback or multicast)");
    }
    match (prefix, next_hop) {
        (IpNet::V4(_), IpAddr::V6(_)) => Some(
            "an IPv6 next hop for an IPv4 prefix (RFC 8950), which this speaker does not negotiate",
        ),
        (IpNet::V6(_), IpAddr::V4(_)) => Some("an IPv4 next hop for an IPv6 prefix"),
        (IpNet::V6(_), IpAddr::V6(hop)) if hop.to_ipv4_mapped().is_some() => Some(
            "its next hop is an IPv4-mapped IPv6 address: Linux does not route IPv6 through an \
             IPv4 gateway (give the peer an IPv6 address on this link)",
        ),
        // Which interface a link-local address is on, only the session could tell; a guess
        // among the host's links (every veth has fe80::/64) could send the traffic anywhere.
        (IpNet::V6(_), IpAddr::V6(hop)) if hop.is_unicast_link_local() => Some(
            "its only next hop is link-local, and the interface it is on is not known \
             (give the peer a global IPv6 address on this link)",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(prefix: &str, peer: &PeerImport) -> Option<&'static str> {
        let protected = ["192.0.2.2".parse().unwrap()];
        let local = BTreeSet::from(["10.60.0.7/32".parse().unwrap()]);
        let ctx = ImportContext {
            local_as: 65001,
            router_id: Ipv4Addr::new(198, 51, 100, 1),
            protected: &protected,
            local: &local,
        };
        let prefix: IpNet = prefix.parse().unwrap();
        let next_hop = match prefix {
            IpNet::V4(_) => "198.51.100.254",
            IpNet::V6(_) => "2001:db8:ffff::254",
        };
        refuse(
            &ctx,
            peer,
            &Candidate {
                prefix,
                next_hop: next_hop.parse().unwrap(),
                as_path: &[65000],
                originator_id: None,
            },
        )
    }

    #[test]
    fn next_hops_the_kernel_cannot_forward_through_are_refused() {
        let usable = |prefix: &str, hop: &str| {
            unusable_next_hop(&prefix.parse().unwrap(), hop.parse().unwrap()).is_none()
        };
        assert!(usable("10.61.0.5/32", "198.51.100.254"));
        assert!(usable("2001:db8:1::/48", "2001:db8:ffff::254"));
        for (prefix, hop) in [
            ("10.61.0.5/32", "0.0.0.0"),
            ("10.61.0.5/32", "127.0.0.1"),
            ("10.61.0.5/32", "224.0.0.5"),
            ("10.61.0.5/32", "2001:db8:ffff::254"),
            ("2001:db8:1::/48", "198.51.100.254"),
            ("2001:db8:1::/48", "::"),
            ("2001:db8:1::/48", "::ffff:198.51.100.254"),
            ("2001:db8:1::/48", "fe80::1"),
            ("2001:db8:1::/48", "ff02::5"),
        ] {
            assert!(!usable(prefix, hop), "{prefix} via {hop}");
        }
    }

    #[test]
    fn defaults_keep_the_host_safe() {
        let peer = PeerImport::default();
        assert_eq!(check("10.61.0.5/32", &peer), None);
        assert!(check("0.0.0.0/0", &peer).unwrap().contains("default route"));
        assert!(check("::/0", &peer).unwrap().contains("default route"));
        assert!(check("192.0.0.0/16", &peer)
            .unwrap()
            .contains("own addresses"));
        assert!(check("10.60.0.7/32", &peer).unwrap().contains("announces"));
        let allowed = PeerImport {
            allow_default: true,
            ..PeerImport::default()
        };
        assert_eq!(check("0.0.0.0/0", &allowed), None);
    }

    #[test]
    fn a_filter_narrows_by_prefix_and_length() {
        let peer = PeerImport {
            only: vec![PrefixFilter {
                prefix: "10.0.0.0/8".parse().unwrap(),
                min_len: 24,
                max_len: 32,
            }],
            ..PeerImport::default()
        };
        assert_eq!(check("10.61.0.0/24", &peer), None);
        assert!(check("10.61.0.0/16", &peer).is_some());
        assert!(check("172.16.0.0/24", &peer).is_some());
    }
}
