//! A received UPDATE into the RIB: withdrawals, RFC 7606's treat-as-withdraw, and each
//! announced prefix through import policy, as the path the RIB compares.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::fsm::Negotiated;
use crate::policy::{refuse, Candidate, ImportContext, PeerImport};
use crate::rib::{Path, Rib, RouteChange};
use crate::wire::{MpNextHop, Nlri, Origin, PathAttribute, SegmentType, Update, UpdateClass};

pub struct Outcome {
    pub changes: Vec<RouteChange>,
    /// Prefixes the peer announced (accepted or not).
    pub received: usize,
    pub end_of_rib: bool,
}

fn prefixes(nlri: &Nlri) -> Vec<IpNet> {
    match nlri {
        Nlri::V4(p) => p.iter().map(|p| IpNet::V4(*p)).collect(),
        Nlri::V6(p) => p.iter().map(|p| IpNet::V6(*p)).collect(),
        Nlri::Other { .. } => Vec::new(),
    }
}

pub fn apply(
    ctx: &ImportContext<'_>,
    import: &PeerImport,
    session: &Negotiated,
    peer: IpAddr,
    rib: &mut Rib,
    update: &Update,
    class: &UpdateClass,
) -> Outcome {
    let mut outcome = Outcome {
        changes: Vec::new(),
        received: 0,
        end_of_rib: update.is_end_of_rib().is_some(),
    };
    let mut withdrawn: Vec<IpNet> = update.withdrawn.iter().map(|p| IpNet::V4(*p)).collect();
    if let Some(unreach) = update.mp_unreach() {
        withdrawn.extend(prefixes(&unreach.withdrawn));
    }
    let announced: Vec<(IpNet, Option<IpAddr>)> = {
        let mut out: Vec<(IpNet, Option<IpAddr>)> = update
            .nlri
            .iter()
            .map(|p| (IpNet::V4(*p), next_hop_v4(update)))
            .collect();
        if let Some(reach) = update.mp_reach() {
            let hop = match &reach.next_hop {
                MpNextHop::V4(a) => Some(IpAddr::V4(*a)),
                // The global address: the link-local one needs its interface, which the
                // kernel route finds from the global one's on-link route. With no global
                // address (:: before a link-local one), the link-local one, which import
                // policy refuses with its reason.
                MpNextHop::V6 {
                    global,
                    link_local: Some(link_local),
                } if global.is_unspecified() => Some(IpAddr::V6(*link_local)),
                MpNextHop::V6 { global, .. } => Some(IpAddr::V6(*global)),
                MpNextHop::Other(_) => None,
            };
            out.extend(prefixes(&reach.nlri).into_iter().map(|p| (p, hop)));
        }
        out
    };
    outcome.received = announced.len();
    if matches!(class, UpdateClass::TreatAsWithdraw(_)) {
        tracing::warn!(%peer, ?class, "malformed UPDATE: its routes are treated as withdrawn");
        withdrawn.extend(announced.iter().map(|(p, _)| *p));
    }
    for prefix in withdrawn {
        outcome.changes.extend(rib.remove(peer, prefix));
    }
    if matches!(class, UpdateClass::TreatAsWithdraw(_)) {
        return outcome;
    }
    let (as_path, as_path_len) = as_path(update);
    let path = |next_hop: IpAddr| Path {
        next_hop,
        local_pref: update
            .attributes
            .iter()
            .find_map(|a| match a {
                PathAttribute::LocalPref(v) if session.peer_as == ctx.local_as => Some(*v),
                _ => None,
            })
            .unwrap_or(100),
        as_path_len,
        origin: update
            .attributes
            .iter()
            .find_map(|a| match a {
                PathAttribute::Origin(o) => Some(*o),
                _ => None,
            })
            .unwrap_or(Origin::Incomplete),
        med: update
            .attributes
            .iter()
            .find_map(|a| match a {
                PathAttribute::MultiExitDisc(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(0),
        neighbor_as: as_path.first().copied(),
        ebgp: session.peer_as != ctx.local_as,
        peer_id: session.peer_id,
        stale: false,
    };
    let originator_id = update.attributes.iter().find_map(|a| match a {
        PathAttribute::OriginatorId(id) => Some(*id),
        _ => None,
    });
    let mut refused = Refusals::default();
    for (prefix, hop) in announced {
        let Some(hop) = hop else { continue };
        let candidate = Candidate {
            prefix,
            next_hop: hop,
            as_path: &as_path,
            originator_id,
        };
        if let Some(reason) = refuse(ctx, import, &candidate) {
            refused.note(reason, prefix);
            outcome.changes.extend(rib.remove(peer, prefix));
            continue;
        }
        outcome.changes.extend(rib.insert(peer, prefix, path(hop)));
    }
    refused.log(peer);
    outcome
}

/// The routes of one UPDATE refused, per reason: one log line each, not one per prefix (an
/// UPDATE carries hundreds, and a peer can send a whole table the policy refuses).
#[derive(Default)]
struct Refusals(Vec<(&'static str, usize, IpNet)>);

impl Refusals {
    fn note(&mut self, reason: &'static str, prefix: IpNet) {
        match self.0.iter_mut().find(|(r, _, _)| *r == reason) {
            Some((_, count, _)) => *count += 1,
            None => self.0.push((reason, 1, prefix)),
        }
    }

    fn log(&self, peer: IpAddr) {
        for (reason, count, first) in &self.0 {
            tracing::info!(%peer, routes = count, %first, reason, "routes refused");
        }
    }
}

fn next_hop_v4(update: &Update) -> Option<IpAddr> {
    update.attributes.iter().find_map(|a| match a {
        PathAttribute::NextHop(h) => Some(IpAddr::V4(*h)),
        _ => None,
    })
}

/// Every AS number of the path (for loop detection) and its length for path selection:
/// RFC 4271 section 9.1.2.2 counts an AS_SET as one, and confederation segments not at all.
fn as_path(update: &Update) -> (Vec<u32>, usize) {
    let Some(path) = update.attributes.iter().find_map(|a| match a {
        PathAttribute::AsPath(p) => Some(p),
        _ => None,
    }) else {
        return (Vec::new(), 0);
    };
    let all = path
        .segments
        .iter()
        .flat_map(|s| s.asns.iter().copied())
        .collect();
    let len = path
        .segments
        .iter()
        .map(|s| match s.kind {
            SegmentType::Sequence => s.asns.len(),
            SegmentType::Set => 1,
            SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
        })
        .sum();
    (all, len)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::net::Ipv4Addr;

    use super::*;
    use crate::policy::{PeerExport, PrefixFilter};

    const PEER: &str = "198.51.100.254";

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    use crate::export::tests::session;

    /// What a peer in AS 65000 sends for `prefixes` (it answers a ROUTE-REFRESH the same
    /// way: its whole table again).
    fn peers_table(prefixes: &[&str]) -> Vec<Update> {
        let hop = crate::export::SelfNextHop::new(PEER.parse().unwrap(), &[]);
        let export = PeerExport::default();
        crate::export::updates_for(65000, &session(65001), &hop, &export, &nets(prefixes), &[])
    }

    /// Every change `import` makes of the peer's table.
    fn import_table(rib: &mut Rib, import: &PeerImport, table: &[Update]) -> Vec<RouteChange> {
        let (protected, local) = (Vec::new(), BTreeSet::new());
        let ctx = ImportContext {
            local_as: 65001,
            router_id: Ipv4Addr::new(198, 51, 100, 1),
            protected: &protected,
            local: &local,
        };
        let peer = PEER.parse().unwrap();
        table
            .iter()
            .flat_map(|u| {
                apply(
                    &ctx,
                    import,
                    &session(65000),
                    peer,
                    rib,
                    u,
                    &UpdateClass::Ok,
                )
                .changes
            })
            .collect()
    }

    #[test]
    fn a_table_sent_again_passes_the_current_import_policy_and_unchanged_paths_change_nothing() {
        let table = peers_table(&["10.62.0.0/24", "10.63.0.0/24"]);
        let open = PeerImport::default();
        let narrow = PeerImport {
            only: vec![PrefixFilter {
                prefix: "10.62.0.0/16".parse().unwrap(),
                min_len: 16,
                max_len: 32,
            }],
            ..PeerImport::default()
        };
        let via = vec![PEER.parse::<IpAddr>().unwrap()];
        let mut rib = Rib::default();
        let first = import_table(&mut rib, &open, &table);
        assert_eq!(first.len(), 2, "{first:?}");

        // The same table again under the same policy: nothing for the kernel to do.
        assert_eq!(import_table(&mut rib, &open, &table), vec![]);

        // Again after the policy narrowed: what it no longer lets through is removed.
        let narrowed = import_table(&mut rib, &narrow, &table);
        assert_eq!(
            narrowed,
            vec![RouteChange {
                prefix: "10.63.0.0/24".parse().unwrap(),
                next_hops: vec![],
                replaced: via.clone(),
            }]
        );
        assert_eq!(rib.prefix_count(PEER.parse().unwrap()), 1);
        assert_eq!(import_table(&mut rib, &narrow, &table), vec![]);

        // And after it widened again, the route is back.
        let widened = import_table(&mut rib, &open, &table);
        assert_eq!(
            widened,
            vec![RouteChange {
                prefix: "10.63.0.0/24".parse().unwrap(),
                next_hops: via,
                replaced: vec![],
            }]
        );
    }

    /// An IPv6 prefix announced through MP_REACH_NLRI with `next_hop`.
    fn v6_update(next_hop: MpNextHop) -> Update {
        Update {
            withdrawn: vec![],
            attributes: vec![
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::MpReach(crate::wire::MpReach {
                    next_hop,
                    nlri: Nlri::V6(vec!["2001:db8:40::/48".parse().unwrap()]),
                }),
            ],
            nlri: vec![],
        }
    }

    #[test]
    fn ipv6_next_hops_the_kernel_cannot_use_as_given_are_refused_and_usable_ones_kept() {
        let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap();
        let refused = [
            // Link-local alone: its interface is not known.
            MpNextHop::V6 {
                global: v6("fe80::1"),
                link_local: None,
            },
            // No global address before the link-local one.
            MpNextHop::V6 {
                global: v6("::"),
                link_local: Some(v6("fe80::1")),
            },
            // What FRR sends when it has no IPv6 address of its own.
            MpNextHop::V6 {
                global: v6("::ffff:198.51.100.254"),
                link_local: None,
            },
            MpNextHop::V4("198.51.100.254".parse().unwrap()),
        ];
        for next_hop in refused {
            let mut rib = Rib::default();
            let changes = import_table(
                &mut rib,
                &PeerImport::default(),
                &[v6_update(next_hop.clone())],
            );
            assert_eq!(changes, vec![], "{next_hop:?}");
            assert_eq!(rib.prefix_count(PEER.parse().unwrap()), 0, "{next_hop:?}");
        }
        let mut rib = Rib::default();
        let global_and_link_local = MpNextHop::V6 {
            global: v6("2001:db8:ffff::254"),
            link_local: Some(v6("fe80::1")),
        };
        let changes = import_table(
            &mut rib,
            &PeerImport::default(),
            &[v6_update(global_and_link_local)],
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].next_hops,
            vec!["2001:db8:ffff::254".parse::<IpAddr>().unwrap()]
        );
    }
}
