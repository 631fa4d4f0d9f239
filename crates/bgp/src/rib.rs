//! The routes peers sent (Adj-RIB-In, after import policy) and the choice among them
//! (Loc-RIB): per prefix the best path by RFC 4271 section 9.1.2.2's order, and every path
//! equal to it up to the router-ID tie-break, whose next hops the kernel route gets (ECMP).
//! Deterministic and without I/O: changes come in, the prefixes whose chosen next hops
//! changed come out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::wire::Origin;

/// One peer's path to a prefix, reduced to what selection and installation use.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// One prefix: each peer's path, and the next hops chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibEntry {
    pub prefix: IpNet,
    pub paths: Vec<(IpAddr, Path)>,
    pub chosen: Vec<IpAddr>,
}

#[derive(Debug, Default)]
pub struct Rib {
    /// prefix -> peer -> path.
    paths: HashMap<IpNet, BTreeMap<IpAddr, Path>>,
    /// What was last given out per prefix.
    chosen: HashMap<IpNet, Vec<IpAddr>>,
    /// Prefixes each peer has paths for, to drop a peer without looking at every prefix.
    by_peer: HashMap<IpAddr, BTreeSet<IpNet>>,
}

impl Rib {
    /// Sets (or replaces) `peer`'s path to `prefix`.
    pub fn insert(&mut self, peer: IpAddr, prefix: IpNet, path: Path) -> Option<RouteChange> {
        self.paths.entry(prefix).or_default().insert(peer, path);
        self.by_peer.entry(peer).or_default().insert(prefix);
        self.choose(prefix)
    }

    /// Removes `peer`'s path to `prefix`.
    pub fn remove(&mut self, peer: IpAddr, prefix: IpNet) -> Option<RouteChange> {
        let paths = self.paths.get_mut(&prefix)?;
        paths.remove(&peer)?;
        if paths.is_empty() {
            self.paths.remove(&prefix);
        }
        if let Some(prefixes) = self.by_peer.get_mut(&peer) {
            prefixes.remove(&prefix);
        }
        self.choose(prefix)
    }

    /// Removes every path of `peer` (its session is down for good), or with `stale_only`
    /// those still marked stale (its restart is over: what it did not send again goes).
    pub fn remove_peer(&mut self, peer: IpAddr, stale_only: bool) -> Vec<RouteChange> {
        let prefixes: Vec<IpNet> = self
            .by_peer
            .get(&peer)
            .map(|p| p.iter().copied().collect())
            .unwrap_or_default();
        let doomed: Vec<IpNet> = prefixes
            .into_iter()
            .filter(|prefix| {
                !stale_only
                    || self
                        .paths
                        .get(prefix)
                        .and_then(|p| p.get(&peer))
                        .is_some_and(|p| p.stale)
            })
            .collect();
        doomed
            .into_iter()
            .filter_map(|prefix| self.remove(peer, prefix))
            .collect()
    }

    /// Marks every path of `peer` stale (graceful restart: kept, to be refreshed).
    pub fn mark_stale(&mut self, peer: IpAddr) {
        for prefix in self.by_peer.get(&peer).into_iter().flatten() {
            if let Some(path) = self.paths.get_mut(prefix).and_then(|p| p.get_mut(&peer)) {
                path.stale = true;
            }
        }
    }

    pub fn prefix_count(&self, peer: IpAddr) -> usize {
        self.by_peer.get(&peer).map_or(0, BTreeSet::len)
    }

    /// Every prefix with its paths and the chosen next hops, in prefix order.
    pub fn entries(&self) -> Vec<RibEntry> {
        let mut out: Vec<RibEntry> = self
            .paths
            .iter()
            .map(|(prefix, paths)| RibEntry {
                prefix: *prefix,
                paths: paths.iter().map(|(p, path)| (*p, path.clone())).collect(),
                chosen: self.chosen.get(prefix).cloned().unwrap_or_default(),
            })
            .collect();
        out.sort_by_key(|e| e.prefix);
        out
    }

    /// Chooses again for `prefix`; the change, if the next hops differ.
    fn choose(&mut self, prefix: IpNet) -> Option<RouteChange> {
        let next_hops = self.paths.get(&prefix).map(best).unwrap_or_default();
        let before = self.chosen.get(&prefix).cloned().unwrap_or_default();
        if before == next_hops {
            return None;
        }
        if next_hops.is_empty() {
            self.chosen.remove(&prefix);
        } else {
            self.chosen.insert(prefix, next_hops.clone());
        }
        Some(RouteChange { prefix, next_hops })
    }
}

/// The next hops of the best paths: every path that ties with the best one on everything
/// before the router-ID comparison, deduplicated and sorted.
fn best(paths: &BTreeMap<IpAddr, Path>) -> Vec<IpAddr> {
    let Some(best) = paths.values().min_by(|a, b| compare(a, b)) else {
        return Vec::new();
    };
    let mut hops: Vec<IpAddr> = paths
        .values()
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
