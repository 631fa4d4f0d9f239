//! Making and removing the host objects the modes plan, the same way for every mode: make
//! them in order and, if one fails, remove what was made; remove them last first, carrying on
//! past failures and reporting all of them.

use std::collections::BTreeSet;

use super::{Dataplane, DataplaneError, HostObject, HostRoute};

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
                HostObject::Veth(_) | HostObject::SubLink(_) | HostObject::Parent(_) => {
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
