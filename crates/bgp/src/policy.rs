//! Import policy: which learned routes may reach the RIB (and so the kernel). The defaults
//! keep a peer from taking the host over: no default route unless the peer's configuration
//! allows one, no prefix that covers one of the host's own addresses, no route for a prefix
//! this host announces itself, nothing that loops back (our AS in the path, our router ID
//! as originator, one of our addresses as next hop).

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
        refuse(
            &ctx,
            peer,
            &Candidate {
                prefix: prefix.parse().unwrap(),
                next_hop: "198.51.100.254".parse().unwrap(),
                as_path: &[65000],
                originator_id: None,
            },
        )
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
