//! The routes peers sent (Adj-RIB-In, after import policy) and the choice among them
//! (Loc-RIB): per prefix the best path by RFC 4271 section 9.1.2.2's order, and every path
//! equal to it up to the router-ID tie-break, whose next hops the kernel route gets (ECMP).
//! Deterministic and without I/O: changes come in, the prefixes whose chosen next hops
//! changed come out.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::intern::{Id, Interner};
use crate::rib_store::{PathRef, PathSets, Paths, ShardKey, Sharded};
use crate::wire::Origin;

/// One peer's path to a prefix, reduced to what selection and installation use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Path {
    pub next_hop: IpAddr,
    pub local_pref: u32,
    pub as_path_len: usize,
    pub origin: Origin,
    pub med: u32,
    /// The first AS of the path (MED is compared only between paths from one AS).
    pub neighbor_as: Option<u32>,
    pub ebgp: bool,
    pub peer_id: Ipv4Addr,
    /// Kept from a session that went down while its peer restarts (RFC 4724).
    pub stale: bool,
}

/// What the kernel should have for a prefix: its next hops; none: no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChange {
    pub prefix: IpNet,
    pub next_hops: Vec<IpAddr>,
    /// The next hops this change replaces, as the speaker last gave them to its sink (none:
    /// it had given no route). A sink that shares one kernel object among all the routes
    /// with the same next hops counts their users with it, without remembering every
    /// prefix itself.
    pub replaced: Vec<IpAddr>,
}

/// One prefix: each peer's path, and the next hops chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibEntry {
    pub prefix: IpNet,
    pub paths: Vec<(IpAddr, Path)>,
    pub chosen: Vec<IpAddr>,
}

/// Every prefix's paths, with path attributes shared between prefixes (see
/// [`crate::intern`]). About 17 bytes per IPv4 prefix (see [`crate::rib_store`]): the chosen
/// next hops are not kept but worked out again from the paths when they change, which is
/// cheaper than storing them.
#[derive(Debug, Default)]
pub struct Rib {
    v4: Sharded<Ipv4Net, Paths>,
    v6: Sharded<Ipv6Net, Paths>,
    /// The paths of prefixes with more than one.
    sets: PathSets,
    /// Paths' attributes, `stale` always false (staleness is per prefix, in [`PathRef`]).
    attributes: Interner<Path>,
    peers: Vec<IpAddr>,
    peer_numbers: HashMap<IpAddr, u16>,
    /// Paths per peer, by peer number.
    counts: Vec<usize>,
    /// The attributes acquired last, and the peer numbered last: an UPDATE's prefixes share both.
    last_shared: Option<Id>,
    last_peer: Option<(IpAddr, u16)>,
}

impl Rib {
    /// Sets (or replaces) `peer`'s path to `prefix`.
    pub fn insert(&mut self, peer: IpAddr, prefix: IpNet, path: Path) -> Option<RouteChange> {
        let Some(peer) = self.peer_number(peer) else {
            tracing::warn!(%peer, "more than 65,536 peers: path ignored");
            return None;
        };
        let fresh = PathRef {
            attributes: self.share(Path {
                stale: false,
                ..path
            }),
            peer,
            stale: path.stale,
        };
        let Rib {
            v4,
            v6,
            sets,
            attributes,
            ..
        } = self;
        let (before, replaced, after) = match prefix {
            IpNet::V4(p) => set_path(v4, p, sets, attributes, fresh),
            IpNet::V6(p) => set_path(v6, p, sets, attributes, fresh),
        };
        match replaced {
            Some(old) => self.attributes.release(old.attributes),
            None => self.counts[usize::from(peer)] += 1,
        }
        change(prefix, before, after)
    }

    /// Removes `peer`'s path to `prefix`.
    pub fn remove(&mut self, peer: IpAddr, prefix: IpNet) -> Option<RouteChange> {
        let peer = *self.peer_numbers.get(&peer)?;
        let Rib {
            v4,
            v6,
            sets,
            attributes,
            ..
        } = self;
        let (before, removed, after) = match prefix {
            IpNet::V4(p) => remove_path(v4, p, sets, attributes, peer),
            IpNet::V6(p) => remove_path(v6, p, sets, attributes, peer),
        }?;
        self.attributes.release(removed.attributes);
        self.counts[usize::from(peer)] -= 1;
        change(prefix, before, after)
    }

    /// Removes every path of `peer` (its session is down for good), or with `stale_only`
    /// those still marked stale (its restart is over: what it did not send again goes).
    /// This looks at every prefix: it happens when a session ends, rarely, and keeping
    /// each peer's prefixes apart would cost more memory than the whole RIB otherwise.
    pub fn remove_peer(&mut self, peer: IpAddr, stale_only: bool) -> Vec<RouteChange> {
        let Some(&number) = self.peer_numbers.get(&peer) else {
            return Vec::new();
        };
        let doomed = |paths: &Paths| {
            self.sets
                .slice(paths)
                .iter()
                .any(|p| p.peer == number && (p.stale || !stale_only))
        };
        let prefixes: Vec<IpNet> = self
            .v4
            .iter()
            .filter(|(_, paths)| doomed(paths))
            .map(|(prefix, _)| IpNet::V4(*prefix))
            .chain(
                self.v6
                    .iter()
                    .filter(|(_, paths)| doomed(paths))
                    .map(|(prefix, _)| IpNet::V6(*prefix)),
            )
            .collect();
        prefixes
            .into_iter()
            .filter_map(|prefix| self.remove(peer, prefix))
            .collect()
    }

    /// Marks every path of `peer` stale (graceful restart: kept, to be refreshed).
    pub fn mark_stale(&mut self, peer: IpAddr) {
        let Some(&number) = self.peer_numbers.get(&peer) else {
            return;
        };
        for paths in self.v4.values_mut().chain(self.v6.values_mut()) {
            for path in self.sets.slice_mut(paths) {
                if path.peer == number {
                    path.stale = true;
                }
            }
        }
    }

    pub fn prefix_count(&self, peer: IpAddr) -> usize {
        self.peer_numbers
            .get(&peer)
            .map_or(0, |n| self.counts[usize::from(*n)])
    }

    /// Whether any peer offers a path to `prefix` that was chosen.
    pub fn is_routed(&self, prefix: &IpNet) -> bool {
        !self.chosen(prefix).is_empty()
    }

    /// Every routed prefix as a change from its chosen next hops to themselves.
    pub fn chosen_routes(&self) -> Vec<RouteChange> {
        let prefixes =
            (self.v4.keys().map(|p| IpNet::V4(*p))).chain(self.v6.keys().map(|p| IpNet::V6(*p)));
        prefixes
            .filter_map(|prefix| {
                let next_hops = self.chosen(&prefix);
                (!next_hops.is_empty()).then(|| RouteChange {
                    prefix,
                    replaced: next_hops.clone(),
                    next_hops,
                })
            })
            .collect()
    }

    /// Every prefix with its paths and the chosen next hops, in prefix order.
    pub fn entries(&self) -> Vec<RibEntry> {
        let all = self
            .v4
            .iter()
            .map(|(p, paths)| (IpNet::V4(*p), paths))
            .chain(self.v6.iter().map(|(p, paths)| (IpNet::V6(*p), paths)));
        let mut out: Vec<RibEntry> = all
            .map(|(prefix, paths)| {
                let mut listed: Vec<(IpAddr, Path)> = self
                    .sets
                    .slice(paths)
                    .iter()
                    .filter_map(|p| {
                        let path = self.attributes.get(p.attributes)?;
                        let stale = p.stale;
                        Some((self.peers[usize::from(p.peer)], Path { stale, ..*path }))
                    })
                    .collect();
                listed.sort_by_key(|(peer, _)| *peer);
                RibEntry {
                    prefix,
                    paths: listed,
                    chosen: self.chosen(&prefix),
                }
            })
            .collect();
        out.sort_by_key(|e| e.prefix);
        out
    }

    /// `path`'s number in the interner, one more reference held. The prefixes of one UPDATE
    /// all have the same path: comparing it with the previous one is cheaper than hashing it.
    fn share(&mut self, path: Path) -> Id {
        if let Some(id) = self.last_shared {
            if self.attributes.get(id) == Some(&path) {
                self.attributes.hold(id);
                return id;
            }
        }
        let id = self.attributes.acquire(&path);
        self.last_shared = Some(id);
        id
    }

    fn peer_number(&mut self, peer: IpAddr) -> Option<u16> {
        if let Some((address, number)) = self.last_peer {
            if address == peer {
                return Some(number);
            }
        }
        if let Some(&number) = self.peer_numbers.get(&peer) {
            self.last_peer = Some((peer, number));
            return Some(number);
        }
        let number = u16::try_from(self.peers.len()).ok()?;
        self.peers.push(peer);
        self.counts.push(0);
        self.peer_numbers.insert(peer, number);
        Some(number)
    }

    /// The next hops chosen for `prefix` (none: no route).
    fn chosen(&self, prefix: &IpNet) -> Vec<IpAddr> {
        let paths = match prefix {
            IpNet::V4(p) => self.v4.get(p),
            IpNet::V6(p) => self.v6.get(p),
        };
        paths.map_or_else(Vec::new, |paths| {
            chosen_among(&self.sets, &self.attributes, paths)
        })
    }
}

/// The change for `prefix`, if its chosen next hops went from `before` to `after`.
fn change(prefix: IpNet, before: Vec<IpAddr>, after: Vec<IpAddr>) -> Option<RouteChange> {
    (after != before).then_some(RouteChange {
        prefix,
        next_hops: after,
        replaced: before,
    })
}

/// Sets `fresh.peer`'s path to `key` with one lookup in `table`: the next hops chosen before,
/// the path replaced, and the next hops chosen after.
fn set_path<K: ShardKey>(
    table: &mut Sharded<K, Paths>,
    key: K,
    sets: &mut PathSets,
    attributes: &Interner<Path>,
    fresh: PathRef,
) -> (Vec<IpAddr>, Option<PathRef>, Vec<IpAddr>) {
    match table.entry(key) {
        Entry::Occupied(mut slot) => {
            let paths = slot.get_mut();
            let before = chosen_among(sets, attributes, paths);
            let replaced = sets.set(paths, fresh);
            (before, replaced, chosen_among(sets, attributes, paths))
        }
        Entry::Vacant(slot) => {
            let after = chosen_among(sets, attributes, slot.insert(Paths::One(fresh)));
            (Vec::new(), None, after)
        }
    }
}

/// Removes `peer`'s path to `key` with one lookup in `table`: the next hops chosen before,
/// the path removed, and the next hops chosen after; None if `peer` had no path to it.
fn remove_path<K: ShardKey>(
    table: &mut Sharded<K, Paths>,
    key: K,
    sets: &mut PathSets,
    attributes: &Interner<Path>,
    peer: u16,
) -> Option<(Vec<IpAddr>, PathRef, Vec<IpAddr>)> {
    let Entry::Occupied(mut slot) = table.entry(key) else {
        return None;
    };
    let before = chosen_among(sets, attributes, slot.get());
    let (removed, left) = sets.remove(*slot.get(), peer);
    let removed = removed?;
    let after = match left {
        Some(left) => {
            *slot.get_mut() = left;
            chosen_among(sets, attributes, &left)
        }
        None => {
            slot.remove();
            Vec::new()
        }
    };
    Some((before, removed, after))
}

/// The next hops chosen among `paths` (none: no route).
fn chosen_among(sets: &PathSets, attributes: &Interner<Path>, paths: &Paths) -> Vec<IpAddr> {
    let paths: Vec<&Path> = sets
        .slice(paths)
        .iter()
        .filter_map(|p| attributes.get(p.attributes))
        .collect();
    best(&paths)
}

/// The next hops of the best paths: every path that ties with the best one on everything
/// before the router-ID comparison, deduplicated and sorted.
fn best(paths: &[&Path]) -> Vec<IpAddr> {
    let Some(best) = paths.iter().min_by(|a, b| compare(a, b)) else {
        return Vec::new();
    };
    let mut hops: Vec<IpAddr> = paths
        .iter()
        .filter(|p| equal_cost(p, best))
        .map(|p| p.next_hop)
        .collect();
    hops.sort();
    hops.dedup();
    hops
}

/// RFC 4271 section 9.1.2.2 (lower is better): higher LOCAL_PREF, shorter AS_PATH, lower
/// ORIGIN, lower MED between paths from one neighbouring AS, eBGP over iBGP, then the
/// lowest BGP identifier.
fn compare(a: &Path, b: &Path) -> std::cmp::Ordering {
    equal_cost_key(a)
        .cmp(&equal_cost_key(b))
        .then_with(|| {
            if a.neighbor_as == b.neighbor_as {
                a.med.cmp(&b.med)
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .then_with(|| b.ebgp.cmp(&a.ebgp))
        .then_with(|| a.peer_id.cmp(&b.peer_id))
}

fn equal_cost_key(p: &Path) -> (std::cmp::Reverse<u32>, usize, u8) {
    (
        std::cmp::Reverse(p.local_pref),
        p.as_path_len,
        p.origin as u8,
    )
}

fn equal_cost(a: &Path, best: &Path) -> bool {
    equal_cost_key(a) == equal_cost_key(best)
        && a.ebgp == best.ebgp
        && (a.neighbor_as != best.neighbor_as || a.med == best.med)
}

#[cfg(test)]
#[path = "rib_tests.rs"]
mod tests;
