//! What this host announces, as UPDATEs for one session: its prefixes with ORIGIN IGP, our
//! AS prepended toward eBGP peers, LOCAL_PREF toward iBGP ones, and this end of the session
//! as next hop (next-hop self: the peers reach the containers through this host). An IPv4
//! prefix goes in the NLRI field, an IPv6 one in MP_REACH_NLRI; a family whose next hop this
//! session cannot give (IPv6 prefixes over an IPv4 session) is not sent on it. Messages stay
//! under 4096 octets by carrying a bounded number of prefixes each. A peer's export policy
//! narrows what it is sent and adds communities. A withdrawal goes whatever the filter says:
//! withdrawing what a peer never had is harmless, and the filter may have changed since.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::fsm::Negotiated;
use crate::policy::PeerExport;
use crate::wire::{
    AsPath, AsSegment, MpNextHop, MpReach, MpUnreach, Nlri, Origin, PathAttribute, SegmentType,
    Update,
};

/// IPv4 prefixes per UPDATE: at most 5 octets each, well inside 4096 with the attributes.
const V4_PER_UPDATE: usize = 600;
/// IPv6 prefixes per UPDATE: at most 17 octets each.
const V6_PER_UPDATE: usize = 200;

pub fn updates_for(
    local_as: u32,
    session: &Negotiated,
    local: IpAddr,
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
    match local {
        IpAddr::V4(hop) => {
            for chunk in v4_in.chunks(V4_PER_UPDATE) {
                let mut attributes = common(session);
                attributes.push(PathAttribute::NextHop(hop));
                updates.push(Update {
                    attributes,
                    nlri: chunk.to_vec(),
                    ..Update::default()
                });
            }
            if !v6_in.is_empty() {
                tracing::debug!(
                    prefixes = v6_in.len(),
                    "IPv6 prefixes not sent over an IPv4 session (no IPv6 next hop)"
                );
            }
        }
        IpAddr::V6(hop) => {
            for chunk in v6_in.chunks(V6_PER_UPDATE) {
                let mut attributes = common(session);
                attributes.push(PathAttribute::MpReach(MpReach {
                    next_hop: MpNextHop::V6 {
                        global: hop,
                        link_local: None,
                    },
                    nlri: Nlri::V6(chunk.to_vec()),
                }));
                updates.push(Update {
                    attributes,
                    ..Update::default()
                });
            }
            if !v4_in.is_empty() {
                tracing::debug!(
                    prefixes = v4_in.len(),
                    "IPv4 prefixes not sent over an IPv6 session (no IPv4 next hop)"
                );
            }
        }
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
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;
    use crate::policy::PrefixFilter;
    use crate::wire::{Afi, Codec, Community, Safi};

    fn session(peer_as: u32) -> Negotiated {
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
        let hop = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
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
}
