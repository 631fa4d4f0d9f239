//! Networks whose endpoints hang off a parent interface (macvlan, ipvlan): choosing and
//! checking the parent, the rules for sharing one, and the objects wharf owns for such a
//! network (an 802.1Q sub-interface or dummy as its parent, its host shim), made and taken
//! away again with the network.

use super::error::{invalid, EngineError, Result};
use super::ipam;
use super::options::NetworkOptions;
use super::state::{
    short_id, Allocation, Attachment, ExtraAddress, IpvlanFlag, MacvlanMode, Mode, Network,
    ParentOrigin, Shim, State, SubLinkKind,
};
use super::Engine;
use crate::modes::sublink;

/// The kernel's limit on interface names (IFNAMSIZ less the terminating NUL).
const MAX_IFNAME: usize = 15;

/// A network's parent as decided at creation, before anything is made.
#[derive(Debug, Clone)]
pub(super) struct PlannedAttachment {
    pub attachment: Attachment,
    pub mtu: u32,
    /// A network on a dummy parent is internal whatever Docker was told.
    pub internal: bool,
    /// The parent does not exist yet: wharf creates it with the network.
    pub create_parent: bool,
}

/// `eth1.30` -> ("eth1", "30"): a name that asks for an 802.1Q sub-interface.
fn vlan_name(name: &str) -> Option<(&str, &str)> {
    let (base, id) = name.rsplit_once('.')?;
    let digits = !id.is_empty() && id.chars().all(|c| c.is_ascii_digit());
    (digits && !base.is_empty()).then_some((base, id))
}

fn check_interface_name(name: &str) -> Result<()> {
    let bad = |c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control();
    if name.len() > MAX_IFNAME || name.chars().any(bad) || name == "." || name == ".." {
        return Err(invalid(format!(
            "option parent: {name:?} is not an interface name (at most {MAX_IFNAME} characters, \
             no '/', ':' or spaces)"
        )));
    }
    Ok(())
}

fn link_kind(options: &NetworkOptions) -> SubLinkKind {
    match options.mode {
        Mode::Ipvlan => SubLinkKind::Ipvlan {
            mode: options.ipvlan_mode,
            flag: options.ipvlan_flag,
        },
        _ => SubLinkKind::Macvlan {
            mode: options.macvlan_mode,
        },
    }
}

/// A shim reaches the containers only where sibling links talk to each other.
fn check_shim_possible(kind: SubLinkKind) -> Result<()> {
    let reason = match kind {
        SubLinkKind::Macvlan {
            mode: MacvlanMode::Private,
        }
        | SubLinkKind::Ipvlan {
            flag: IpvlanFlag::Private,
            ..
        } => "private links cannot reach each other, so the host's shim could not reach the containers",
        SubLinkKind::Macvlan {
            mode: MacvlanMode::Passthru,
        } => "passthru gives the whole parent to one container",
        _ => return Ok(()),
    };
    Err(invalid(format!(
        "option host_shim: not possible with {}: {reason}",
        kind.describe()
    )))
}

/// The kernel's rules and Docker's for sharing a parent: an ipvlan parent carries one ipvlan
/// network (its links share one mode) and no macvlan links; a macvlan passthru parent is not
/// shared at all; other macvlan networks may share one.
fn check_parent_sharing(state: &State, network_id: &str, wanted: &Attachment) -> Result<()> {
    let other = state
        .networks
        .values()
        .filter(|n| n.id != network_id)
        .filter_map(|n| n.attachment.as_ref().map(|a| (n, a)))
        .find(|(_, a)| a.parent == wanted.parent);
    let Some((other, theirs)) = other else {
        return Ok(());
    };
    let ipvlan = |kind| matches!(kind, SubLinkKind::Ipvlan { .. });
    let passthru = |kind| {
        kind == SubLinkKind::Macvlan {
            mode: MacvlanMode::Passthru,
        }
    };
    let why = if ipvlan(wanted.kind) && ipvlan(theirs.kind) {
        "a parent carries one ipvlan network (its ipvlan links share one mode): \
         use another parent, e.g. an 802.1Q sub-interface such as parent=IFACE.VID"
    } else if ipvlan(wanted.kind) != ipvlan(theirs.kind) {
        "a parent carries macvlan or ipvlan links, not both: choose another parent"
    } else if passthru(wanted.kind) || passthru(theirs.kind) {
        "a macvlan passthru parent cannot be shared: choose another parent"
    } else {
        return Ok(());
    };
    Err(invalid(format!(
        "parent {} is used by {} network {}, and {why}",
        wanted.parent,
        theirs.kind.describe(),
        short_id(&other.id)
    )))
}

impl Engine {
    /// Decides a new network's parent from its options: the one named (created as an 802.1Q
    /// sub-interface when it is missing and named `IFACE.VID`), else for a macvlan network
    /// that is not internal the interface of the host's default route, else a dummy wharf
    /// creates (an internal network, as with Docker's drivers). Checks the MTU against the
    /// parent's (the kernel would only say EINVAL) and the sharing rules.
    pub(super) fn plan_attachment(
        &self,
        state: &State,
        network_id: &str,
        options: &NetworkOptions,
    ) -> Result<PlannedAttachment> {
        let kind = link_kind(options);
        if options.host_shim {
            check_shim_possible(kind)?;
        }
        let name = match &options.parent {
            Some(name) => Some(name.clone()),
            None if options.mode == Mode::Macvlan && !options.internal => {
                Some(self.dataplane.default_route_device()?.ok_or_else(|| {
                    invalid(
                        "no parent given and the host has no IPv4 default route: pass -o parent=IFACE \
                         (or --internal for a network on a dummy link)",
                    )
                })?)
            }
            None => None,
        };
        let (parent, origin, parent_mtu, create_parent) = match name {
            None => (
                sublink::dummy_name(network_id),
                ParentOrigin::Dummy,
                None,
                true,
            ),
            Some(name) => {
                check_interface_name(&name)?;
                match self.dataplane.parent_link(&name)? {
                    Some(link) => {
                        let origin = if link.owned {
                            created_origin(state, &name)
                        } else {
                            ParentOrigin::Host
                        };
                        (name, origin, Some(link.mtu), false)
                    }
                    None => {
                        let (origin, mtu) = self.plan_vlan(&name)?;
                        (name, origin, Some(mtu), true)
                    }
                }
            }
        };
        let mtu = match (options.mtu, parent_mtu) {
            (Some(mtu), Some(max)) if mtu > max => {
                return Err(invalid(format!(
                    "option mtu: {mtu} is larger than the MTU of parent {parent} ({max}); \
                     {} links cannot exceed their parent's",
                    kind.describe()
                )))
            }
            (Some(mtu), _) => mtu,
            (None, Some(max)) => max,
            (None, None) => self.config.network_defaults.mtu,
        };
        let internal = options.internal || origin == ParentOrigin::Dummy;
        let attachment = Attachment {
            parent,
            kind,
            origin,
            shim: None,
        };
        check_parent_sharing(state, network_id, &attachment)?;
        Ok(PlannedAttachment {
            attachment,
            mtu,
            internal,
            create_parent,
        })
    }

    /// A missing parent named `IFACE.VID`: VLAN VID on IFACE, with IFACE's MTU.
    fn plan_vlan(&self, name: &str) -> Result<(ParentOrigin, u32)> {
        let Some((base, id_text)) = vlan_name(name) else {
            return Err(invalid(format!(
                "parent {name} does not exist: name an existing interface with -o parent=IFACE, \
                 or IFACE.VID for an 802.1Q sub-interface wharf creates"
            )));
        };
        let id = id_text
            .parse::<u16>()
            .ok()
            .filter(|id| (1..=4094).contains(id))
            .ok_or_else(|| {
                invalid(format!(
                    "parent {name}: VLAN id {id_text} is outside 1-4094"
                ))
            })?;
        let base_link = self.dataplane.parent_link(base)?.ok_or_else(|| {
            invalid(format!(
                "parent {name} does not exist, and neither does {base} to create it on as VLAN {id}"
            ))
        })?;
        Ok((
            ParentOrigin::Vlan {
                base: base.into(),
                id,
            },
            base_link.mtu,
        ))
    }

    /// Takes the shim's addresses (one per subnet wharf's IPAM manages) for a network that
    /// asked for `host_shim`.
    pub(super) fn allocate_shim(&self, state: &mut State, network: &Network) -> Result<Shim> {
        let mut addresses = Vec::new();
        for subnet in &network.subnets {
            let Some(pool_id) = &subnet.pool_id else {
                continue;
            };
            let kind = Allocation::Shim {
                network: network.id.clone(),
            };
            let address = ipam::request_address(state, pool_id, None, kind)?.addr();
            addresses.push(ExtraAddress {
                address,
                pool_id: pool_id.clone(),
            });
        }
        if addresses.is_empty() {
            return Err(invalid(
                "option host_shim needs an address for the host from wharf's IPAM: \
                 create the network with --ipam-driver wharf",
            ));
        }
        Ok(Shim {
            name: sublink::shim_name(&network.id),
            addresses,
        })
    }

    /// Makes the parent (when wharf creates it) and the shim of a new network. On failure,
    /// whatever it made is deleted again. Returns the links made, for the caller to undo
    /// if a later step fails.
    pub(super) fn make_attachment(
        &self,
        network: &Network,
        attachment: &Attachment,
        create_parent: bool,
    ) -> Result<Vec<String>> {
        let mut made = Vec::new();
        let result = (|| {
            if let Some(spec) = sublink::parent_spec(network, attachment).filter(|_| create_parent)
            {
                self.dataplane.create_parent(&spec)?;
                made.push(spec.name);
            }
            if let Some(shim) = &attachment.shim {
                let spec = sublink::shim_spec(network, attachment, shim);
                self.dataplane.create_sub_link(&spec)?;
                made.push(spec.name);
            }
            Ok::<(), EngineError>(())
        })();
        match result {
            Ok(()) => Ok(made),
            Err(e) => {
                self.delete_links(&made);
                Err(e)
            }
        }
    }

    /// Deletes links, the last made first; failures are left to reconciliation, which finds
    /// the links by their alias.
    pub(super) fn delete_links(&self, links: &[String]) {
        for link in links.iter().rev() {
            if let Err(e) = self.dataplane.delete_link(link) {
                tracing::warn!(link = %link, error = %e, "could not delete link");
            }
        }
    }

    /// What a deleted network leaves to take away: its shim (and its addresses), and its
    /// parent if wharf made it and no other network uses it. `state` no longer holds it.
    pub(super) fn remove_attachment(
        &self,
        state: &mut State,
        attachment: &Attachment,
    ) -> Result<()> {
        if let Some(shim) = &attachment.shim {
            self.dataplane.delete_link(&shim.name)?;
            for address in &shim.addresses {
                let _ = ipam::release_address(state, &address.pool_id, address.address);
            }
        }
        let still_used = state
            .networks
            .values()
            .filter_map(|n| n.attachment.as_ref())
            .any(|a| a.parent == attachment.parent);
        if attachment.created_parent() && !still_used {
            // Only a link that still carries wharf's mark: one someone replaced is theirs.
            let ours = self
                .dataplane
                .parent_link(&attachment.parent)?
                .is_some_and(|link| link.owned);
            if ours {
                self.dataplane.delete_link(&attachment.parent)?;
            }
        }
        Ok(())
    }
}

/// The origin of a parent that carries wharf's mark: as another network recorded it, or, for
/// one no network records (its network's delete could not remove it), read from its name:
/// wharf made it, so it goes with the last network that uses it.
fn created_origin(state: &State, parent: &str) -> ParentOrigin {
    let recorded = state
        .networks
        .values()
        .filter_map(|n| n.attachment.as_ref())
        .find(|a| a.parent == parent && a.created_parent())
        .map(|a| a.origin.clone());
    recorded.unwrap_or_else(|| match vlan_name(parent) {
        Some((base, id)) => match id.parse() {
            Ok(id) => ParentOrigin::Vlan {
                base: base.into(),
                id,
            },
            Err(_) => ParentOrigin::Dummy,
        },
        None => ParentOrigin::Dummy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_names() {
        assert_eq!(vlan_name("eth1.30"), Some(("eth1", "30")));
        assert_eq!(vlan_name("bond0.1.40"), Some(("bond0.1", "40")));
        assert_eq!(vlan_name("eth1"), None);
        assert_eq!(vlan_name("eth1."), None);
        assert_eq!(vlan_name(".30"), None);
        assert_eq!(vlan_name("eth1.3a"), None);
        assert!(check_interface_name("eth1.30").is_ok());
        assert!(check_interface_name("a-very-long-name.30").is_err());
        assert!(check_interface_name("eth/1").is_err());
    }
}
