//! The object accounting against a model of the kernel's nexthop objects, which, like the
//! kernel, deletes the routes through an object with it and removes a device's objects when
//! the device goes down. What must hold after every step: each route the speaker has given
//! forwards through exactly its next hops; and once every route is gone, so is every object.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use proptest::prelude::*;
use wharf_netlink::{Nexthop, NexthopTarget, Route};

use super::super::learned::plan;
use super::{HopKernel, HopObjects, FIRST_ID};
use crate::dataplane::LearnedChange;

const PROTOCOL: u8 = 88;

#[derive(Debug, Clone, PartialEq)]
enum Via {
    Object(u32),
    Hops(Vec<IpAddr>),
}

/// Next hop 10.0.D.H is on device D.
#[derive(Debug, Default)]
struct ModelKernel {
    objects: BTreeMap<u32, Nexthop>,
    routes: BTreeMap<IpNet, Via>,
    /// Refuse to make objects at all (a kernel before 5.3).
    no_objects: bool,
}

fn device_of(hop: IpAddr) -> u32 {
    match hop {
        IpAddr::V4(v4) => u32::from(v4.octets()[2]),
        IpAddr::V6(_) => 0,
    }
}

impl ModelKernel {
    fn remove_object(&mut self, id: u32) {
        if self.objects.remove(&id).is_none() {
            return;
        }
        self.routes.retain(|_, via| *via != Via::Object(id));
        // Groups lose the member; a group left with none goes, with its routes.
        let mut emptied = Vec::new();
        for (group_id, object) in self.objects.iter_mut() {
            if let NexthopTarget::Group(members) = &mut object.target {
                members.retain(|m| m.id != id);
                if members.is_empty() {
                    emptied.push(*group_id);
                }
            }
        }
        for group in emptied {
            self.remove_object(group);
        }
    }

    /// The device goes down: its single objects go, as the kernel removes them.
    fn device_down(&mut self, device: u32) {
        let doomed: Vec<u32> = self
            .objects
            .values()
            .filter(|o| matches!(o.target, NexthopTarget::Gateway { oif, .. } if oif == device))
            .map(|o| o.id)
            .collect();
        for id in doomed {
            self.remove_object(id);
        }
    }

    fn forwarding(&self, prefix: &IpNet) -> Option<Vec<IpAddr>> {
        let mut hops = match self.routes.get(prefix)? {
            Via::Hops(hops) => hops.clone(),
            Via::Object(id) => match &self.objects.get(id)?.target {
                NexthopTarget::Gateway { gateway, .. } => vec![*gateway],
                NexthopTarget::Group(members) => members
                    .iter()
                    .filter_map(|m| match self.objects.get(&m.id)?.target {
                        NexthopTarget::Gateway { gateway, .. } => Some(gateway),
                        _ => None,
                    })
                    .collect(),
                _ => return None,
            },
        };
        hops.sort_unstable();
        Some(hops)
    }

    fn write(&mut self, install: Vec<Route>, remove: Vec<Route>) {
        for route in remove {
            let prefix = IpNet::new(route.destination, route.prefix_len).unwrap();
            self.routes.remove(&prefix);
        }
        for route in install {
            let prefix = IpNet::new(route.destination, route.prefix_len).unwrap();
            let via = match route.nexthop_id {
                Some(id) if self.objects.contains_key(&id) => Via::Object(id),
                Some(_) => continue, // the kernel refuses a route through a missing object
                None if route.next_hops.is_empty() => {
                    Via::Hops(route.gateway.into_iter().collect())
                }
                None => Via::Hops(route.next_hops.iter().filter_map(|h| h.gateway).collect()),
            };
            self.routes.insert(prefix, via);
        }
    }

    fn ours(&self) -> usize {
        self.objects
            .values()
            .filter(|o| o.protocol == PROTOCOL)
            .count()
    }
}

impl HopKernel for ModelKernel {
    fn objects(&mut self) -> Result<Vec<Nexthop>, String> {
        if self.no_objects {
            return Err("Operation not supported".into());
        }
        Ok(self.objects.values().cloned().collect())
    }

    fn create(&mut self, nexthop: &Nexthop) -> Result<bool, String> {
        if self.no_objects {
            return Err("Operation not supported".into());
        }
        if self.objects.contains_key(&nexthop.id) {
            return Ok(false);
        }
        if let NexthopTarget::Group(members) = &nexthop.target {
            if members.iter().any(|m| !self.objects.contains_key(&m.id)) {
                return Err("group member missing".into());
            }
        }
        self.objects.insert(nexthop.id, nexthop.clone());
        Ok(true)
    }

    fn replace(&mut self, nexthop: &Nexthop) -> Result<(), String> {
        self.objects.insert(nexthop.id, nexthop.clone());
        Ok(())
    }

    fn delete(&mut self, id: u32) -> Result<(), String> {
        self.remove_object(id);
        Ok(())
    }

    fn device_toward(&mut self, hop: IpAddr) -> Result<u32, String> {
        Ok(device_of(hop))
    }
}

fn hop(device: u8, host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, device, host))
}

fn prefix(n: u8) -> IpNet {
    IpNet::new(IpAddr::V4(Ipv4Addr::new(10, 70, 0, n)), 32).unwrap()
}

/// The daemon's side: the speaker's last word per prefix, and the dataplane.
struct Host {
    kernel: ModelKernel,
    objects: HopObjects,
    speaker: BTreeMap<IpNet, Vec<IpAddr>>,
}

impl Host {
    fn new() -> Host {
        Host {
            kernel: ModelKernel::default(),
            objects: HopObjects::new(PROTOCOL),
            speaker: BTreeMap::new(),
        }
    }

    fn apply(&mut self, changes: &[LearnedChange]) {
        let (install, remove) = plan(&mut self.objects, &mut self.kernel, PROTOCOL, changes);
        self.kernel.write(install, remove);
        self.objects.collect(&mut self.kernel);
    }

    /// The speaker chooses `hops` for each prefix (none: no route).
    fn choose(&mut self, routes: &[(IpNet, Vec<IpAddr>)]) {
        let mut changes: Vec<LearnedChange> = Vec::new();
        let mut seen = HashSet::new();
        for (prefix, hops) in routes {
            if !seen.insert(*prefix) {
                continue;
            }
            let mut hops = hops.clone();
            hops.sort_unstable();
            hops.dedup();
            let replaced = self.speaker.get(prefix).cloned().unwrap_or_default();
            if replaced == hops {
                continue;
            }
            if hops.is_empty() {
                self.speaker.remove(prefix);
            } else {
                self.speaker.insert(*prefix, hops.clone());
            }
            changes.push(LearnedChange {
                prefix: *prefix,
                next_hops: hops,
                replaced,
            });
        }
        self.apply(&changes);
    }

    /// What the daemon's periodic check does.
    fn check(&mut self) {
        if self.objects.verify(&mut self.kernel).unwrap() {
            let all: Vec<LearnedChange> = self
                .speaker
                .iter()
                .map(|(p, h)| LearnedChange {
                    prefix: *p,
                    next_hops: h.clone(),
                    replaced: h.clone(),
                })
                .collect();
            self.apply(&all);
        }
    }

    /// A new daemon on the same kernel: it adopts the objects and the routes left, and its
    /// speaker starts from nothing.
    fn restart(&mut self) -> Vec<IpNet> {
        self.objects = HopObjects::new(PROTOCOL);
        let through: Vec<(IpNet, u32)> = self
            .kernel
            .routes
            .iter()
            .filter_map(|(p, v)| match v {
                Via::Object(id) => Some((*p, *id)),
                Via::Hops(_) => None,
            })
            .collect();
        self.objects.adopt(&mut self.kernel, &through).unwrap();
        self.speaker.clear();
        self.kernel.routes.keys().copied().collect()
    }

    /// The end of a restart: kept routes the speaker did not choose again go.
    fn forget_unrouted(&mut self, kept: &[IpNet]) {
        let changes: Vec<LearnedChange> = kept
            .iter()
            .filter(|p| !self.speaker.contains_key(p))
            .map(|p| LearnedChange {
                prefix: *p,
                next_hops: Vec::new(),
                replaced: Vec::new(),
            })
            .collect();
        self.apply(&changes);
    }

    fn assert_forwarding(&self) {
        for (prefix, hops) in &self.speaker {
            assert_eq!(
                self.kernel.forwarding(prefix).as_ref(),
                Some(hops),
                "{prefix}: kernel {:?}",
                self.kernel.routes.get(prefix)
            );
        }
    }
}

#[test]
fn routes_with_the_same_next_hops_share_one_object_and_it_goes_with_the_last() {
    let mut host = Host::new();
    let a = vec![hop(1, 1)];
    host.choose(&[
        (prefix(1), a.clone()),
        (prefix(2), a.clone()),
        (prefix(3), a.clone()),
    ]);
    host.assert_forwarding();
    assert_eq!(host.kernel.ours(), 1);
    assert_eq!(host.kernel.routes[&prefix(1)], Via::Object(FIRST_ID));
    host.choose(&[(prefix(1), vec![]), (prefix(2), vec![])]);
    assert_eq!(host.kernel.ours(), 1, "one route still uses it");
    host.assert_forwarding();
    host.choose(&[(prefix(3), vec![])]);
    assert_eq!(host.kernel.ours(), 0);
}

#[test]
fn ecmp_routes_share_a_group_of_the_single_objects() {
    let mut host = Host::new();
    let both = vec![hop(1, 1), hop(2, 1)];
    host.choose(&[(prefix(1), both.clone()), (prefix(2), vec![hop(1, 1)])]);
    host.assert_forwarding();
    assert_eq!(host.kernel.ours(), 3, "two singles and a group");
    host.choose(&[(prefix(2), vec![])]);
    assert_eq!(host.kernel.ours(), 3, "the group still needs its members");
    host.choose(&[(prefix(1), vec![hop(2, 1)])]);
    host.assert_forwarding();
    assert_eq!(host.kernel.ours(), 1, "only the single in use is left");
}

#[test]
fn another_daemons_object_keeps_its_id() {
    let mut host = Host::new();
    let foreign = Nexthop {
        id: FIRST_ID,
        protocol: 186,
        target: NexthopTarget::Gateway {
            gateway: hop(3, 3),
            oif: 3,
        },
    };
    host.kernel.objects.insert(FIRST_ID, foreign.clone());
    host.choose(&[(prefix(1), vec![hop(1, 1)])]);
    host.assert_forwarding();
    assert_eq!(host.kernel.objects[&FIRST_ID], foreign);
    host.choose(&[(prefix(1), vec![])]);
    assert_eq!(host.kernel.objects.len(), 1);
}

#[test]
fn without_objects_routes_name_their_next_hops() {
    let mut host = Host::new();
    host.kernel.no_objects = true;
    host.restart();
    host.choose(&[(prefix(1), vec![hop(1, 1), hop(2, 1)])]);
    host.assert_forwarding();
    assert!(matches!(host.kernel.routes[&prefix(1)], Via::Hops(_)));
}

#[test]
fn routes_lost_with_a_device_come_back_and_nothing_is_deleted_under_a_route() {
    let mut host = Host::new();
    let a = vec![hop(1, 1)];
    host.choose(&[(prefix(1), a.clone()), (prefix(2), a.clone())]);
    host.kernel.device_down(1);
    assert!(host.kernel.routes.is_empty());
    host.check();
    host.assert_forwarding();
    // The releases of the lost routes must not delete the new object under a live route.
    host.choose(&[(prefix(1), vec![])]);
    host.assert_forwarding();
    host.choose(&[(prefix(2), vec![])]);
    assert_eq!(host.kernel.ours(), 0);
}

#[test]
fn a_restart_adopts_objects_and_kept_routes_then_clears_what_was_not_sent_again() {
    let mut host = Host::new();
    host.choose(&[
        (prefix(1), vec![hop(1, 1)]),
        (prefix(2), vec![hop(1, 1), hop(2, 1)]),
        (prefix(3), vec![hop(2, 1)]),
    ]);
    let kept = host.restart();
    assert_eq!(kept.len(), 3);
    host.choose(&[(prefix(1), vec![hop(1, 1)]), (prefix(2), vec![hop(2, 1)])]);
    host.assert_forwarding();
    host.forget_unrouted(&kept);
    host.assert_forwarding();
    assert!(!host.kernel.routes.contains_key(&prefix(3)));
    host.choose(&[(prefix(1), vec![]), (prefix(2), vec![])]);
    assert_eq!((host.kernel.ours(), host.kernel.routes.len()), (0, 0));
}

#[derive(Debug, Clone)]
enum Step {
    Choose(Vec<(u8, Vec<(u8, u8)>)>),
    DeviceDown(u8),
    Restart { resend: Vec<u8> },
}

fn step() -> impl Strategy<Value = Step> {
    let hops = prop::collection::vec((1u8..4, 1u8..3), 0..3);
    let routes = prop::collection::vec((1u8..12, hops), 1..6);
    prop_oneof![
        6 => routes.prop_map(Step::Choose),
        1 => (1u8..4).prop_map(Step::DeviceDown),
        1 => prop::collection::vec(1u8..12, 0..8).prop_map(|resend| Step::Restart { resend }),
    ]
}

proptest! {
    #[test]
    fn every_route_forwards_through_its_next_hops_and_nothing_leaks(
        steps in prop::collection::vec(step(), 1..40)
    ) {
        let mut host = Host::new();
        for step in steps {
            match step {
                Step::Choose(routes) => {
                    let routes: Vec<(IpNet, Vec<IpAddr>)> = routes
                        .into_iter()
                        .map(|(p, hops)| (prefix(p), hops.into_iter().map(|(d, h)| hop(d, h)).collect()))
                        .collect();
                    host.choose(&routes);
                }
                Step::DeviceDown(device) => {
                    host.kernel.device_down(u32::from(device));
                    host.check();
                }
                Step::Restart { resend } => {
                    let before: HashMap<IpNet, Vec<IpAddr>> = host.speaker.clone().into_iter().collect();
                    let kept = host.restart();
                    let again: Vec<(IpNet, Vec<IpAddr>)> = resend
                        .into_iter()
                        .filter_map(|p| Some((prefix(p), before.get(&prefix(p))?.clone())))
                        .collect();
                    host.choose(&again);
                    host.forget_unrouted(&kept);
                }
            }
            host.assert_forwarding();
        }
        let all: Vec<(IpNet, Vec<IpAddr>)> = host.speaker.keys().map(|p| (*p, Vec::new())).collect();
        host.choose(&all);
        prop_assert_eq!(host.kernel.routes.len(), 0);
        prop_assert_eq!(host.kernel.ours(), 0, "objects left: {:?}", host.kernel.objects);
    }
}
