//! What this host announces, as UPDATEs for one session: its prefixes with ORIGIN IGP, our
//! AS prepended toward eBGP peers, LOCAL_PREF toward iBGP ones, and this end of the session
//! as next hop (next-hop self: the peers reach the containers through this host). An IPv4
//! prefix goes in the NLRI field, an IPv6 one in MP_REACH_NLRI, each only on a session that
//! negotiated its family. Over a session of the other family the next hop is this host's
//! address of that family on the session's interface (IPv6 prefixes over an IPv4 session go
//! via its global IPv6 address, with the link-local one after it, RFC 2545); a family with
//! no such address is not sent on that session. Messages stay
//! under 4096 octets by carrying a bounded number of prefixes each. A peer's export policy
//! narrows what it is sent and adds communities. A withdrawal goes whatever the filter says:
//! withdrawing what a peer never had is harmless, and the filter may have changed since.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::fsm::Negotiated;
use crate::policy::PeerExport;
use crate::wire::{Afi, Safi};
use crate::wire::{
    AsPath, AsSegment, MpNextHop, MpReach, MpUnreach, Nlri, Origin, PathAttribute, SegmentType,
    Update,
};

/// IPv4 prefixes per UPDATE: at most 5 octets each, well inside 4096 with the attributes.
const V4_PER_UPDATE: usize = 600;
/// IPv6 prefixes per UPDATE: at most 17 octets each.
const V6_PER_UPDATE: usize = 200;

/// This end of a session as a next hop, in each family it has an address in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelfNextHop {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
    /// Sent after the global address (RFC 2545): a peer on the same link may use it.
    pub v6_link_local: Option<Ipv6Addr>,
}

impl SelfNextHop {
    /// The session's own address `local`, completed by the host's addresses `beside` it on
    /// the session's interface (the first of each kind).
    pub fn new(local: IpAddr, beside: &[IpAddr]) -> SelfNextHop {
        let mut hop = SelfNextHop::default();
        for address in std::iter::once(&local).chain(beside) {
            match address {
                IpAddr::V4(v4) if hop.v4.is_none() => hop.v4 = Some(*v4),
                IpAddr::V6(v6) if is_link_local(v6) => {
                    hop.v6_link_local.get_or_insert(*v6);
                }
                IpAddr::V6(v6) if hop.v6.is_none() => {
                    // An IPv4-mapped address is how a dual-stack socket shows an IPv4 end.
                    match v6.to_ipv4_mapped() {
                        Some(v4) => {
                            hop.v4.get_or_insert(v4);
                        }
                        None => hop.v6 = Some(*v6),
                    }
                }
                _ => {}
            }
        }
        hop
    }
}

fn is_link_local(address: &Ipv6Addr) -> bool {
    address.segments()[0] & 0xffc0 == 0xfe80
}

pub fn updates_for(
    local_as: u32,
    session: &Negotiated,
    hop: &SelfNextHop,
    export: &PeerExport,
    announce: &[IpNet],
    withdraw: &[IpNet],
) -> Vec<Update> {
    let allowed: Vec<IpNet> = announce
        .iter()
        .filter(|p| export.allows(p))
        .copied()
        .collect();
    let (v4_in, v6_in) = split(&allowed);
    let (v4_out, v6_out) = split(withdraw);
    let mut updates = Vec::new();
    for chunk in v4_out.chunks(V4_PER_UPDATE) {
        updates.push(Update {
            withdrawn: chunk.to_vec(),
            ..Update::default()
        });
    }
    for chunk in v6_out.chunks(V6_PER_UPDATE) {
        updates.push(Update {
            attributes: vec![PathAttribute::MpUnreach(MpUnreach {
                withdrawn: Nlri::V6(chunk.to_vec()),
            })],
            ..Update::default()
        });
    }
    let common = |session: &Negotiated| {
        let ebgp = session.peer_as != local_as;
        let mut attributes = vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath {
                segments: if ebgp {
                    vec![AsSegment {
                        kind: SegmentType::Sequence,
                        asns: vec![local_as],
                    }]
                } else {
                    Vec::new()
                },
            }),
        ];
        if !ebgp {
            attributes.push(PathAttribute::LocalPref(100));
        }
        if !export.communities.is_empty() {
            attributes.push(PathAttribute::Communities(export.communities.clone()));
        }
        attributes
    };
    let negotiated = |afi| session.families.contains(&(afi, Safi::UNICAST));
    match (hop.v4, negotiated(Afi::IPV4)) {
        (Some(v4), true) => {
            for chunk in v4_in.chunks(V4_PER_UPDATE) {
                let mut attributes = common(session);
                attributes.push(PathAttribute::NextHop(v4));
                updates.push(Update {
                    attributes,
                    nlri: chunk.to_vec(),
                    ..Update::default()
                });
            }
        }
        _ if !v4_in.is_empty() => tracing::debug!(
            prefixes = v4_in.len(),
            "IPv4 prefixes not sent on this session (family not negotiated, or no IPv4 next hop)"
        ),
        _ => {}
    }
    match (hop.v6, negotiated(Afi::IPV6)) {
        (Some(global), true) => {
            for chunk in v6_in.chunks(V6_PER_UPDATE) {
                let mut attributes = common(session);
                attributes.push(PathAttribute::MpReach(MpReach {
                    next_hop: MpNextHop::V6 {
                        global,
                        link_local: hop.v6_link_local,
                    },
                    nlri: Nlri::V6(chunk.to_vec()),
                }));
                updates.push(Update {
                    attributes,
                    ..Update::default()
                });
            }
        }
        _ if !v6_in.is_empty() => tracing::debug!(
            prefixes = v6_in.len(),
            "IPv6 prefixes not sent on this session (family not negotiated, or no global IPv6 next hop)"
        ),
        _ => {}
    }
    updates
}

fn split(prefixes: &[IpNet]) -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for p in prefixes {
        match p {
            IpNet::V4(p) => v4.push(*p),
            IpNet::V6(p) => v6.push(*p),
        }
    }
    (v4, v6)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;
    use crate::policy::PrefixFilter;
    use crate::wire::{Afi, Codec, Community, Safi};

    /// An IPv4 unicast session as this side sees it: `peer_as` is the other end.
    pub(crate) fn session(peer_as: u32) -> Negotiated {
        Negotiated {
            peer_as,
            peer_id: Ipv4Addr::new(198, 51, 100, 254),
            hold_time: Duration::from_secs(90),
            codec: Codec::default(),
            families: vec![(Afi::IPV4, Safi::UNICAST)],
            peer_restart: None,
            route_refresh: false,
        }
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    #[test]
    fn an_export_filter_narrows_what_is_sent_and_communities_ride_along() {
        let export = PeerExport {
            only: vec![PrefixFilter {
                prefix: "10.60.0.0/16".parse().unwrap(),
                min_len: 16,
                max_len: 32,
            }],
            communities: vec![Community(65001 << 16 | 100)],
        };
        let hop = &SelfNextHop::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), &[]);
        let announce = nets(&["10.60.0.7/32", "10.99.0.1/32", "10.60.0.0/15"]);
        let updates = updates_for(65001, &session(65000), hop, &export, &announce, &[]);
        let sent: Vec<IpNet> = updates
            .iter()
            .flat_map(|u| u.nlri.iter().map(|p| IpNet::V4(*p)))
            .collect();
        assert_eq!(sent, nets(&["10.60.0.7/32"]));
        assert!(updates.iter().all(|u| u
            .attributes
            .contains(&PathAttribute::Communities(vec![Community(0xFDE9_0064)]))));
        // Withdrawals are not filtered; no policy: everything goes, without communities.
        let gone = updates_for(65001, &session(65000), hop, &export, &[], &announce);
        assert_eq!(gone[0].withdrawn.len(), 3);
        let plain = updates_for(
            65001,
            &session(65000),
            hop,
            &PeerExport::default(),
            &announce,
            &[],
        );
        assert_eq!(plain[0].nlri.len(), 3);
        assert!(!plain[0]
            .attributes
            .iter()
            .any(|a| matches!(a, PathAttribute::Communities(_))));
    }

    #[test]
    fn each_family_goes_with_this_hosts_address_of_that_family_where_negotiated() {
        let dual = Negotiated {
            families: vec![(Afi::IPV4, Safi::UNICAST), (Afi::IPV6, Safi::UNICAST)],
            ..session(65000)
        };
        let beside: Vec<IpAddr> = ["fe80::1", "fd5f::1", "fd5f::2"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        // An IPv4 session seen through a dual-stack socket.
        let local: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        let hop = SelfNextHop::new(local, &beside);
        assert_eq!(
            hop,
            SelfNextHop {
                v4: Some(Ipv4Addr::new(198, 51, 100, 1)),
                v6: Some("fd5f::1".parse().unwrap()),
                v6_link_local: Some("fe80::1".parse().unwrap()),
            }
        );
        let announce = nets(&["10.60.0.7/32", "fd60::7/128"]);
        let updates = updates_for(65001, &dual, &hop, &PeerExport::default(), &announce, &[]);
        assert_eq!(updates.len(), 2);
        assert!(updates[1]
            .attributes
            .contains(&PathAttribute::MpReach(MpReach {
                next_hop: MpNextHop::V6 {
                    global: "fd5f::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: Nlri::V6(vec!["fd60::7/128".parse().unwrap()]),
            })));
        // Not negotiated: not sent, whatever the addresses.
        let v4_only = updates_for(
            65001,
            &session(65000),
            &hop,
            &PeerExport::default(),
            &announce,
            &[],
        );
        assert_eq!(v4_only.len(), 1);
        assert_eq!(v4_only[0].nlri.len(), 1);
        // No global IPv6 address beside: no IPv6 prefixes (a link-local alone is not a
        // next hop RFC 2545 allows).
        let bare = SelfNextHop::new(local, &["fe80::1".parse().unwrap()]);
        let updates = updates_for(65001, &dual, &bare, &PeerExport::default(), &announce, &[]);
        assert_eq!(updates.len(), 1);
        // An IPv6 session gives IPv4 prefixes this host's IPv4 address beside it.
        let over_v6 = SelfNextHop::new(
            "fd5f::1".parse().unwrap(),
            &["198.51.100.1".parse().unwrap()],
        );
        let updates = updates_for(
            65001,
            &dual,
            &over_v6,
            &PeerExport::default(),
            &announce,
            &[],
        );
        assert!(updates[0]
            .attributes
            .contains(&PathAttribute::NextHop(Ipv4Addr::new(198, 51, 100, 1))));
    }
}
