//! Nexthop objects for learned routes: one per set of next hops (a single object for one
//! next hop, a group of singles for ECMP), shared by every route with that set. A peer's
//! 100,000 routes then point at one object: the kernel checks the next hop once instead of
//! once per route, and installs them in about half the time (bench/bgp-install).
//!
//! Objects are deleted when no route uses them. Which routes use one is not remembered per
//! route (that would cost as much memory as the speaker's whole table): each change says
//! which next hops it replaces, and a count per set follows. Two rules keep that count from
//! ever falling below the truth, since deleting an object the kernel still routes through
//! would delete those routes with it:
//! - a route installed without an object (none could be made) still counts for its set;
//! - routes lost with an object the kernel removed (it does, when the object's device goes
//!   down) become "phantoms": the next releases of the set take phantoms first, so the count
//!   of the replacement object can only be too high (a kept object), never too low.
//!
//! Objects carry the learned routes' protocol number from the moment they exist, ids come
//! from wharf's own range and are created exclusively (another daemon's object with the
//! same id is never replaced), and a restart adopts them with the routes that use them.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use wharf_netlink::{GroupMember, Nexthop, NexthopTarget};

/// The first id wharf gives a nexthop object: far above the small ids iproute2 users and
/// FRR's zebra pick, so collisions are rare (and harmless: creation is exclusive).
pub const FIRST_ID: u32 = 0x5748_0000;

/// Attempts at finding a free id before giving up on an object.
const ID_ATTEMPTS: u32 = 64;

/// What the hop objects need of the kernel.
pub trait HopKernel {
    /// Every nexthop object in the namespace, whoever made it.
    fn objects(&mut self) -> Result<Vec<Nexthop>, String>;
    /// Creates an object whose id must be free: `Ok(false)` when the id is taken.
    fn create(&mut self, nexthop: &Nexthop) -> Result<bool, String>;
    /// Replaces an object of wharf's (a group whose member the kernel removed).
    fn replace(&mut self, nexthop: &Nexthop) -> Result<(), String>;
    fn delete(&mut self, id: u32) -> Result<(), String>;
    /// The device the kernel reaches `hop` through.
    fn device_toward(&mut self, hop: IpAddr) -> Result<u32, String>;
}

/// A set of next hops, sorted and without repeats.
type HopKey = Box<[IpAddr]>;

#[derive(Debug, Default)]
struct HopSet {
    /// The object routes with this set point at; none while it could not be made (those
    /// routes name their next hops themselves).
    object: Option<u32>,
    /// Routes counted for the set (at least those using `object`).
    routes: usize,
    /// Routes the kernel removed with an earlier object of this set, still counted by the
    /// speaker: their releases come first.
    phantoms: usize,
    /// For a single next hop: the groups its object is a member of.
    groups: usize,
}

#[derive(Debug)]
pub struct HopObjects {
    protocol: u8,
    sets: HashMap<HopKey, HopSet>,
    /// Each object of wharf's, by id, with its set.
    ids: HashMap<u32, HopKey>,
    /// Routes a previous run left, by the object they use: until the speaker says what
    /// becomes of each, this (not the speaker) knows what a change of them replaces.
    kept: HashMap<IpNet, u32>,
    next_id: u32,
    /// Whether the kernel has nexthop objects at all (5.3 and later).
    supported: bool,
    /// Sets whose object could not be made during this batch: not tried again until the next.
    failed: HashSet<HopKey>,
    /// Whether the kernel's objects (and kept routes) were taken over yet.
    adopted: bool,
}

fn key(hops: &[IpAddr]) -> HopKey {
    let mut hops = hops.to_vec();
    hops.sort_unstable();
    hops.dedup();
    hops.into_boxed_slice()
}

impl HopObjects {
    pub fn new(protocol: u8) -> HopObjects {
        HopObjects {
            protocol,
            sets: HashMap::new(),
            ids: HashMap::new(),
            kept: HashMap::new(),
            next_id: FIRST_ID,
            supported: true,
            failed: HashSet::new(),
            adopted: false,
        }
    }

    pub fn adopted(&self) -> bool {
        self.adopted
    }

    /// The next hops of each object of wharf's.
    pub fn hops_by_object(&self) -> HashMap<u32, Vec<IpAddr>> {
        self.ids.iter().map(|(id, k)| (*id, k.to_vec())).collect()
    }

    /// Takes over the objects of wharf's in the kernel and the routes (`(prefix, object)`)
    /// a previous run left through them; deletes those of its objects nothing uses.
    /// Returns each object's next hops, to read the kept routes by.
    pub fn adopt(
        &mut self,
        kernel: &mut dyn HopKernel,
        routes: &[(IpNet, u32)],
    ) -> Result<HashMap<u32, Vec<IpAddr>>, String> {
        self.adopted = true;
        let objects = match kernel.objects() {
            Ok(objects) => objects,
            Err(error) => {
                tracing::info!(%error, "no nexthop objects: learned routes name their next hops");
                self.supported = false;
                return Ok(HashMap::new());
            }
        };
        let ours: Vec<Nexthop> = objects
            .into_iter()
            .filter(|o| o.protocol == self.protocol)
            .collect();
        let mut gateways: HashMap<u32, IpAddr> = HashMap::new();
        for object in &ours {
            if let NexthopTarget::Gateway { gateway, .. } = object.target {
                gateways.insert(object.id, gateway);
            }
        }
        let mut hops_of: HashMap<u32, Vec<IpAddr>> = HashMap::new();
        for object in &ours {
            let hops = match &object.target {
                NexthopTarget::Gateway { gateway, .. } => vec![*gateway],
                NexthopTarget::Group(members) => members
                    .iter()
                    .filter_map(|m| gateways.get(&m.id))
                    .copied()
                    .collect(),
                _ => Vec::new(),
            };
            self.next_id = self.next_id.max(object.id.saturating_add(1));
            hops_of.insert(object.id, hops);
        }
        // Objects first, groups after their members; an object whose set another already
        // stands for is a duplicate nothing new will use.
        let mut sorted = ours.clone();
        sorted.sort_by_key(|o| matches!(o.target, NexthopTarget::Group(_)));
        let mut duplicates = Vec::new();
        for object in &sorted {
            let hops = &hops_of[&object.id];
            let set_key = key(hops);
            if hops.is_empty() || self.sets.get(&set_key).is_some_and(|s| s.object.is_some()) {
                duplicates.push(object.id);
                continue;
            }
            self.sets.entry(set_key.clone()).or_default().object = Some(object.id);
            self.ids.insert(object.id, set_key);
            if let NexthopTarget::Group(members) = &object.target {
                for member in members {
                    if let Some(member_key) = self.ids.get(&member.id) {
                        if let Some(set) = self.sets.get_mut(member_key) {
                            set.groups += 1;
                        }
                    }
                }
            }
        }
        for (prefix, id) in routes {
            if let Some(set) = self.ids.get(id).and_then(|k| self.sets.get_mut(k)) {
                set.routes += 1;
                self.kept.insert(*prefix, *id);
            }
        }
        for id in duplicates {
            if !routes.iter().any(|(_, used)| *used == id) {
                let _ = kernel.delete(id);
            }
        }
        self.collect(kernel);
        Ok(hops_of)
    }

    /// Counts one more route with `hops` and returns the object it is to use, making it if
    /// need be; `None`: the route names its next hops (no object could be made).
    pub fn acquire(&mut self, kernel: &mut dyn HopKernel, hops: &[IpAddr]) -> Option<u32> {
        let set_key = key(hops);
        let id = self.object_for(kernel, &set_key);
        self.sets.entry(set_key).or_default().routes += 1;
        id
    }

    /// Counts one route fewer with `hops` (what a change replaces; none: nothing).
    pub fn release(&mut self, hops: &[IpAddr]) {
        if hops.is_empty() {
            return;
        }
        if let Some(set) = self.sets.get_mut(&key(hops)) {
            if set.phantoms > 0 {
                set.phantoms -= 1;
            } else {
                set.routes = set.routes.saturating_sub(1);
            }
        }
    }

    /// Releases what a route a previous run left used, if `prefix` is one; says whether it was.
    pub fn release_kept(&mut self, prefix: &IpNet) -> bool {
        let Some(id) = self.kept.remove(prefix) else {
            return false;
        };
        if let Some(hops) = self.ids.get(&id).cloned() {
            self.release(&hops);
        }
        true
    }

    /// Deletes the objects no route uses any more (groups before their members).
    pub fn collect(&mut self, kernel: &mut dyn HopKernel) {
        let unused: Vec<HopKey> = self
            .sets
            .iter()
            .filter(|(k, s)| k.len() > 1 && s.routes == 0)
            .map(|(k, _)| k.clone())
            .collect();
        for group in unused {
            self.drop_object(kernel, &group);
        }
        let unused: Vec<HopKey> = self
            .sets
            .iter()
            .filter(|(k, s)| k.len() == 1 && s.routes == 0 && s.groups == 0)
            .map(|(k, _)| k.clone())
            .collect();
        for single in unused {
            self.drop_object(kernel, &single);
        }
        self.failed.clear();
    }

    /// Checks that wharf's objects are still in the kernel, which removes one (and the
    /// routes through it) when its device goes down or loses its carrier. Routes of a
    /// removed object become phantoms; a group that lost a member gets a new one. Returns
    /// whether routes were lost: the speaker's chosen routes must then be given again.
    pub fn verify(&mut self, kernel: &mut dyn HopKernel) -> Result<bool, String> {
        if !self.supported || self.ids.is_empty() {
            return Ok(false);
        }
        let present: HashMap<u32, Nexthop> = kernel
            .objects()?
            .into_iter()
            .filter(|o| o.protocol == self.protocol)
            .map(|o| (o.id, o))
            .collect();
        let gone: Vec<u32> = self
            .ids
            .keys()
            .filter(|id| !present.contains_key(id))
            .copied()
            .collect();
        let mut lost = false;
        for id in &gone {
            let Some(set_key) = self.ids.remove(id) else {
                continue;
            };
            if let Some(set) = self.sets.get_mut(&set_key) {
                lost |= set.routes > 0;
                set.phantoms += set.routes;
                set.routes = 0;
                set.object = None;
                if set_key.len() == 1 {
                    set.groups = 0;
                }
            }
            self.release_members(&set_key);
        }
        if !gone.is_empty() {
            tracing::warn!(objects = gone.len(), "the kernel removed nexthop objects of learned routes (a device went down): installing their routes again");
        }
        // Also groups that lost a member earlier, when it could not be made again then.
        self.repair_groups(kernel, &present, &gone);
        self.failed.clear();
        Ok(lost)
    }

    /// Groups the kernel kept after removing one of their members: their members again.
    fn repair_groups(
        &mut self,
        kernel: &mut dyn HopKernel,
        present: &HashMap<u32, Nexthop>,
        gone: &[u32],
    ) {
        let groups: Vec<(u32, HopKey)> = self
            .ids
            .iter()
            .filter(|(_, k)| k.len() > 1)
            .map(|(id, k)| (*id, k.clone()))
            .collect();
        for (id, hops) in groups {
            let Some(NexthopTarget::Group(members)) = present.get(&id).map(|o| &o.target) else {
                continue;
            };
            let expected = hops.len();
            if members.len() == expected && !members.iter().any(|m| gone.contains(&m.id)) {
                continue;
            }
            // Members still there keep their count; the replacements take one each.
            let kept_members: Vec<u32> = members.iter().map(|m| m.id).collect();
            let mut new_members = Vec::new();
            for hop in hops.iter() {
                let single = key(&[*hop]);
                let existing = self.sets.get(&single).and_then(|s| s.object);
                let member = match existing {
                    Some(member) if kept_members.contains(&member) => Some(member),
                    _ => {
                        let made = self.object_for(kernel, &single);
                        if made.is_some() {
                            self.sets.entry(single).or_default().groups += 1;
                        }
                        made
                    }
                };
                new_members.extend(member);
            }
            if new_members.len() == expected {
                let group = self.group(id, &new_members);
                if let Err(error) = kernel.replace(&group) {
                    tracing::warn!(id, %error, "could not restore a nexthop group's members");
                }
            }
        }
    }

    /// The object for a set: the one there is, or a new one.
    fn object_for(&mut self, kernel: &mut dyn HopKernel, set_key: &HopKey) -> Option<u32> {
        if let Some(id) = self.sets.get(set_key).and_then(|s| s.object) {
            return Some(id);
        }
        if !self.supported || self.failed.contains(set_key) {
            return None;
        }
        let made = if set_key.len() == 1 {
            self.make_single(kernel, set_key[0])
        } else {
            self.make_group(kernel, set_key)
        };
        match made {
            Ok(id) => {
                self.sets.entry(set_key.clone()).or_default().object = Some(id);
                self.ids.insert(id, set_key.clone());
                Some(id)
            }
            Err(error) => {
                tracing::warn!(next_hops = ?set_key, %error,
                    "no nexthop object for these next hops: their routes name them instead");
                self.failed.insert(set_key.clone());
                None
            }
        }
    }

    fn make_single(&mut self, kernel: &mut dyn HopKernel, hop: IpAddr) -> Result<u32, String> {
        let oif = kernel.device_toward(hop)?;
        self.create(kernel, NexthopTarget::Gateway { gateway: hop, oif })
    }

    fn make_group(&mut self, kernel: &mut dyn HopKernel, hops: &[IpAddr]) -> Result<u32, String> {
        let mut members = Vec::new();
        for hop in hops {
            let single = key(&[*hop]);
            let id = self
                .object_for(kernel, &single)
                .ok_or_else(|| format!("no object for next hop {hop}"))?;
            members.push((single, id));
        }
        let ids: Vec<u32> = members.iter().map(|(_, id)| *id).collect();
        let made = self.create(kernel, self.group(0, &ids).target)?;
        for (single, _) in members {
            self.sets.entry(single).or_default().groups += 1;
        }
        Ok(made)
    }

    fn group(&self, id: u32, members: &[u32]) -> Nexthop {
        Nexthop {
            id,
            protocol: self.protocol,
            target: NexthopTarget::Group(
                members
                    .iter()
                    .map(|&id| GroupMember { id, weight: 1 })
                    .collect(),
            ),
        }
    }

    /// Creates an object at the next free id of wharf's range.
    fn create(&mut self, kernel: &mut dyn HopKernel, target: NexthopTarget) -> Result<u32, String> {
        for _ in 0..ID_ATTEMPTS {
            let id = self.next_id;
            self.next_id = match self.next_id.checked_add(1) {
                Some(next) => next,
                None => FIRST_ID,
            };
            if self.ids.contains_key(&id) {
                continue;
            }
            let object = Nexthop {
                id,
                protocol: self.protocol,
                target: target.clone(),
            };
            if kernel.create(&object)? {
                return Ok(id);
            }
        }
        Err(format!("{ID_ATTEMPTS} nexthop ids in a row were taken"))
    }

    /// Deletes a set's object (none: just forgets the set, unless phantoms still count).
    fn drop_object(&mut self, kernel: &mut dyn HopKernel, set_key: &HopKey) {
        let Some(set) = self.sets.get_mut(set_key) else {
            return;
        };
        let object = set.object.take();
        if set.phantoms == 0 {
            self.sets.remove(set_key);
        }
        if let Some(id) = object {
            if let Err(error) = kernel.delete(id) {
                tracing::warn!(id, %error, "could not delete an unused nexthop object");
            }
            self.ids.remove(&id);
            self.release_members(set_key);
        }
    }

    /// A group is gone: its members are in one group fewer.
    fn release_members(&mut self, group: &HopKey) {
        if group.len() < 2 {
            return;
        }
        for hop in group.iter() {
            if let Some(single) = self.sets.get_mut(&key(&[*hop])) {
                single.groups = single.groups.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
#[path = "hop_objects_tests.rs"]
mod tests;
