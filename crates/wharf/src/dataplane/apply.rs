//! Making and removing the host objects the modes plan, the same way for every mode: make
//! them in order and, if one fails, remove what was made; remove them last first, carrying on
//! past failures and reporting all of them.

use std::collections::BTreeSet;

use super::{Dataplane, DataplaneError, HostObject, HostRoute, PortKind};

impl Dataplane {
    /// Makes `objects` in order (runs of routes or addresses in one call each). If a step
    /// fails, what was made is removed again and the step's error returned.
    pub fn make(&self, objects: &[HostObject]) -> Result<(), DataplaneError> {
        let mut made = 0;
        while made < objects.len() {
            let run = run_length(&objects[made..]);
            if let Err(error) = self.make_run(&objects[made..made + run]) {
                if let Err(undo) = self.remove(&objects[..made], &|_| false) {
                    tracing::warn!(error = %undo, "undoing a failed set-up left something behind");
                }
                return Err(error);
            }
            made += run;
        }
        Ok(())
    }

    fn make_run(&self, run: &[HostObject]) -> Result<(), DataplaneError> {
        let links = &self.links;
        match &run[0] {
            HostObject::Veth(spec) => links.create_veth(spec),
            HostObject::SubLink(spec) => links.create_sub_link(spec),
            HostObject::Parent(spec) => links.create_parent(spec),
            HostObject::Address(_) => {
                let addresses: Vec<_> = run
                    .iter()
                    .filter_map(|o| match o {
                        HostObject::Address(a) => Some(a.clone()),
                        _ => None,
                    })
                    .collect();
                self.routes.add_addresses(&addresses)
            }
            HostObject::Route(_) => self.routes.ensure_routes(&routes_of(run)),
            HostObject::Bridge(spec) => self.switches.ensure_bridge(spec),
            HostObject::SwitchPort(spec) => self.switches.add_port(spec),
        }
    }

    /// Removes `objects`, last first, carrying on past failures (all are reported). An
    /// address or route on a link removed here goes with it; `keep` names objects to leave
    /// (a parent another network still uses). A parent is removed only while it still
    /// carries wharf's mark: one someone replaced is theirs.
    pub fn remove(
        &self,
        objects: &[HostObject],
        keep: &dyn Fn(&HostObject) -> bool,
    ) -> Result<(), DataplaneError> {
        let removed_links: BTreeSet<&str> = objects
            .iter()
            .filter(|o| !keep(o))
            .filter_map(|o| match o {
                HostObject::Veth(_)
                | HostObject::SubLink(_)
                | HostObject::Parent(_)
                | HostObject::Bridge(_) => Some(o.link()),
                HostObject::SwitchPort(spec) if matches!(spec.kind, PortKind::Internal { .. }) => {
                    Some(o.link())
                }
                _ => None,
            })
            .collect();
        let mut errors = Vec::new();
        let routes: Vec<HostRoute> = objects
            .iter()
            .filter(|o| !keep(o) && !removed_links.contains(o.link()))
            .filter_map(|o| match o {
                HostObject::Route(route) => Some(route.clone()),
                _ => None,
            })
            .collect();
        if !routes.is_empty() {
            errors.extend(self.routes.remove_routes(&routes).err());
        }
        for object in objects.iter().rev().filter(|o| !keep(o)) {
            let outcome = match object {
                HostObject::Veth(_) | HostObject::SubLink(_) => {
                    self.links.delete_link(object.link())
                }
                HostObject::Parent(spec) => match self.links.link(&spec.name) {
                    Ok(Some(link)) if link.owned_parent => self.links.delete_link(&spec.name),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                },
                // Addresses go with their link; routes went above.
                HostObject::Address(_) | HostObject::Route(_) => Ok(()),
                // A bridge's ports go with it; its `delete_bridge` leaves alone one that is
                // not wharf's.
                HostObject::Bridge(spec) => self.switches.delete_bridge(&spec.name),
                HostObject::SwitchPort(spec) if removed_links.contains(spec.bridge.as_str()) => {
                    Ok(())
                }
                HostObject::SwitchPort(spec) => self.switches.delete_port(&spec.bridge, &spec.name),
            };
            errors.extend(outcome.err());
        }
        match DataplaneError::combine(errors) {
            None => Ok(()),
            Some(error) => Err(error),
        }
    }
}

/// How many objects from the start form one step: a run of routes, or of addresses, or one
/// link.
fn run_length(objects: &[HostObject]) -> usize {
    let same_kind = |o: &HostObject| {
        matches!(
            (&objects[0], o),
            (HostObject::Route(_), HostObject::Route(_))
                | (HostObject::Address(_), HostObject::Address(_))
        )
    };
    match objects.first() {
        Some(HostObject::Route(_) | HostObject::Address(_)) => {
            objects.iter().take_while(|o| same_kind(o)).count()
        }
        Some(_) => 1,
        None => 0,
    }
}

fn routes_of(objects: &[HostObject]) -> Vec<HostRoute> {
    objects
        .iter()
        .filter_map(|o| match o {
            HostObject::Route(route) => Some(route.clone()),
            _ => None,
        })
        .collect()
}
