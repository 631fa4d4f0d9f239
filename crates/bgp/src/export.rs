//! What this host announces, as UPDATEs for one session: its prefixes with ORIGIN IGP, our
//! AS prepended toward eBGP peers, LOCAL_PREF toward iBGP ones, and this end of the session
//! as next hop (next-hop self: the peers reach the containers through this host). An IPv4
//! prefix goes in the NLRI field, an IPv6 one in MP_REACH_NLRI; a family whose next hop this
//! session cannot give (IPv6 prefixes over an IPv4 session) is not sent on it. Messages stay
//! under 4096 octets by carrying a bounded number of prefixes each.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::fsm::Negotiated;
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
    announce: &[IpNet],
    withdraw: &[IpNet],
) -> Vec<Update> {
    let (v4_in, v6_in) = split(announce);
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
