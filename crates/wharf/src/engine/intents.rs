//! Intents: the links a change is about to make, recorded before they exist. The kernel
//! makes a link before it lets wharf mark it (an alias is set by a second request), so a crash
//! in between would leave a link nobody could tell is wharf's; the intent says whose it is, and
//! reconciliation takes such a link away. An intent costs a journal line written without an
//! fdatasync: it must survive the process's death (the page cache keeps it), not the host's
//! (the links die with the host).

use super::{Core, Draft, Engine, Result};
use crate::dataplane::HostObject;
use crate::model::Change;
use crate::store::Durability;

/// The links a plan makes (a veth pair's host end names the pair).
pub(super) fn links_made(objects: &[HostObject]) -> Vec<String> {
    objects
        .iter()
        .filter_map(|object| match object {
            HostObject::Veth(spec) => Some(spec.host_ifname.clone()),
            HostObject::SubLink(spec) => Some(spec.name.clone()),
            HostObject::Parent(spec) => Some(spec.name.clone()),
            // Open vSwitch rows carry wharf's mark from the transaction that makes them, and
            // ovs-vswitchd's links go with the rows.
            HostObject::Address(_)
            | HostObject::Route(_)
            | HostObject::Bridge(_)
            | HostObject::SwitchPort(_) => None,
        })
        .collect()
}

impl Engine {
    /// Commits that `owner` is about to make the links of `objects`. Call under the lock.
    pub(super) fn record_intent(
        &self,
        core: &mut Core,
        owner: &str,
        objects: &[HostObject],
    ) -> Result<()> {
        let links = links_made(objects);
        if links.is_empty() {
            return Ok(());
        }
        let mut draft = Draft::new(core.state.clone());
        draft.record(Change::Intended {
            owner: owner.into(),
            links,
        })?;
        self.commit(core, draft, Durability::Lazy)
    }

    /// Ends an intent whose links were undone. A failure is logged: the intent then stays, and
    /// the next start's reconciliation looks at its links (which are gone) again.
    pub(super) fn drop_intent(&self, owner: &str) {
        let mut core = self.lock();
        if !core.state.intents.contains_key(owner) {
            return;
        }
        let mut draft = Draft::new(core.state.clone());
        let ended = draft
            .record(Change::IntentDone {
                owner: owner.into(),
            })
            .map_err(Into::into)
            .and_then(|()| self.commit(&mut core, draft, Durability::Lazy));
        if let Err(error) = ended {
            tracing::warn!(%owner, %error, "could not record the end of an intent");
        }
    }
}
