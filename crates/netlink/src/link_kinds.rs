//! Links of other kinds than veth: dummy, 802.1Q VLAN, macvlan and ipvlan, each made in one
//! RTM_NEWLINK request (`ip link add NAME link PARENT type KIND ...`).

use crate::client::Netlink;
use crate::error::{Error, Result};
use crate::link::{check_name, index_field};
use crate::link_codec::encode_create_link;
use crate::uapi::{NLM_F_CREATE, NLM_F_EXCL, RTM_NEWLINK};

/// `IFLA_MACVLAN_MODE` values (linux/if_link.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    Private = 1,
    Vepa = 2,
    Bridge = 4,
    Passthru = 8,
}

/// `IFLA_IPVLAN_MODE` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvlanMode {
    L2 = 0,
    L3 = 1,
    L3s = 2,
}

/// `IFLA_IPVLAN_FLAGS` values: bridge is the absence of the other two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpvlanFlag {
    Bridge = 0,
    Private = 1,
    Vepa = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Dummy,
    /// An 802.1Q sub-interface with this VLAN ID (1-4094).
    Vlan(u16),
    Macvlan(MacvlanMode),
    Ipvlan(IpvlanMode, IpvlanFlag),
}

impl LinkKind {
    fn name(self) -> &'static str {
        match self {
            LinkKind::Dummy => "dummy",
            LinkKind::Vlan(_) => "vlan",
            LinkKind::Macvlan(_) => "macvlan",
            LinkKind::Ipvlan(..) => "ipvlan",
        }
    }
}

/// A link to create. Every kind but dummy needs a parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub name: String,
    pub kind: LinkKind,
    /// Interface index of the parent (`link PARENT`).
    pub parent: Option<u32>,
    /// None: the kernel's default (the parent's MTU for stacked kinds).
    pub mtu: Option<u32>,
    /// None: a random address (ipvlan links always share the parent's).
    pub mac: Option<[u8; 6]>,
    pub up: bool,
}

impl Netlink {
    /// Creates the link in one request and returns its interface index.
    pub fn create_link(&mut self, link: &NewLink) -> Result<u32> {
        check_name(&link.name)?;
        check_new_link(link)?;
        self.execute(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &|m| {
            encode_create_link(m, link)
        })?;
        self.link_by_name(&link.name)?
            .map(|created| created.index)
            .ok_or_else(|| {
                Error::malformed(format!("link {} vanished right after creation", link.name))
            })
    }
}

fn check_new_link(link: &NewLink) -> Result<()> {
    if let LinkKind::Vlan(id) = link.kind {
        if !(1..=4094).contains(&id) {
            return Err(Error::Invalid(format!(
                "VLAN ID {id} of {} is outside 1-4094",
                link.name
            )));
        }
    }
    match (link.kind, link.parent) {
        (LinkKind::Dummy, Some(_)) => Err(Error::Invalid(format!(
            "dummy link {} cannot have a parent",
            link.name
        ))),
        (LinkKind::Dummy, None) | (_, Some(_)) => {
            if let Some(parent) = link.parent {
                index_field(parent)?;
            }
            Ok(())
        }
        (kind, None) => Err(Error::Invalid(format!(
            "{} link {} needs a parent",
            kind.name(),
            link.name
        ))),
    }
}
