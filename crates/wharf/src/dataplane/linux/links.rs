//! Parents and the links that hang off them: looking a parent up, the default route's
//! interface, macvlan and ipvlan links, and the 802.1Q sub-interfaces and dummies wharf
//! creates as parents.

use std::net::IpAddr;

use wharf_netlink::{Family, LinkKind, Netlink, NewLink};

use super::endpoint::host_address;
use super::kernel_error;
use crate::dataplane::{
    DataplaneError, ParentKind, ParentLink, ParentSpec, SubLinkSpec, PARENT_ALIAS,
};
use crate::engine::state::{IpvlanFlag, IpvlanMode, MacvlanMode, SubLinkKind};

pub(super) fn parent(
    netlink: &mut Netlink,
    name: &str,
) -> Result<Option<ParentLink>, DataplaneError> {
    let link = netlink
        .link_by_name(name)
        .map_err(kernel_error(format!("look up interface {name}")))?;
    Ok(link.map(|l| ParentLink {
        owned: l.alias.as_deref() == Some(PARENT_ALIAS),
        name: l.name,
        mtu: l.mtu,
        mac: l.mac,
    }))
}

pub(super) fn default_route_device(
    netlink: &mut Netlink,
) -> Result<Option<String>, DataplaneError> {
    let routes = netlink
        .routes(Family::V4)
        .map_err(kernel_error("list IPv4 routes"))?;
    let Some(index) = routes
        .iter()
        .filter(|r| r.prefix_len == 0)
        .find_map(|r| r.oif)
    else {
        return Ok(None);
    };
    let links = netlink.links().map_err(kernel_error("list links"))?;
    Ok(links.into_iter().find(|l| l.index == index).map(|l| l.name))
}

fn kernel_kind(kind: SubLinkKind) -> LinkKind {
    use wharf_netlink::{IpvlanFlag as Flag, IpvlanMode as Ipvlan, MacvlanMode as Macvlan};
    match kind {
        SubLinkKind::Macvlan { mode } => LinkKind::Macvlan(match mode {
            MacvlanMode::Bridge => Macvlan::Bridge,
            MacvlanMode::Private => Macvlan::Private,
            MacvlanMode::Vepa => Macvlan::Vepa,
            MacvlanMode::Passthru => Macvlan::Passthru,
        }),
        SubLinkKind::Ipvlan { mode, flag } => LinkKind::Ipvlan(
            match mode {
                IpvlanMode::L2 => Ipvlan::L2,
                IpvlanMode::L3 => Ipvlan::L3,
                IpvlanMode::L3s => Ipvlan::L3s,
            },
            match flag {
                IpvlanFlag::Bridge => Flag::Bridge,
                IpvlanFlag::Private => Flag::Private,
                IpvlanFlag::Vepa => Flag::Vepa,
            },
        ),
    }
}

/// Looks up a link that must exist (the base of something about to be created).
fn require(netlink: &mut Netlink, name: &str, what: &str) -> Result<u32, DataplaneError> {
    netlink
        .link_by_name(name)
        .map_err(kernel_error(what))?
        .map(|link| link.index)
        .ok_or_else(|| DataplaneError::Kernel {
            what: what.into(),
            message: format!("{name} does not exist"),
        })
}

pub(super) fn create_sub_link(
    netlink: &mut Netlink,
    spec: &SubLinkSpec,
) -> Result<(), DataplaneError> {
    let what = format!(
        "create {} link {} on {}",
        spec.kind.describe(),
        spec.name,
        spec.parent
    );
    let parent = require(netlink, &spec.parent, &what)?;
    let index = netlink
        .create_link(&NewLink {
            name: spec.name.clone(),
            kind: kernel_kind(spec.kind),
            parent: Some(parent),
            mtu: Some(spec.mtu),
            mac: spec.mac,
            up: false,
        })
        .map_err(kernel_error(what))?;
    let finished = finish_sub_link(netlink, spec, index);
    if finished.is_err() {
        let _ = netlink.delete_link(&spec.name);
    }
    finished
}

/// The alias (the kernel ignores one in a create request), then a shim's addresses and up.
fn finish_sub_link(
    netlink: &mut Netlink,
    spec: &SubLinkSpec,
    index: u32,
) -> Result<(), DataplaneError> {
    netlink
        .set_link_alias(index, &spec.alias)
        .map_err(kernel_error(format!("set alias of {}", spec.name)))?;
    if spec.addresses.is_empty() {
        return Ok(());
    }
    for &address in &spec.addresses {
        add_host_address(netlink, index, &spec.name, address)?;
    }
    netlink
        .set_link_up(index)
        .map_err(kernel_error(format!("set {} up", spec.name)))
}

fn add_host_address(
    netlink: &mut Netlink,
    index: u32,
    name: &str,
    address: IpAddr,
) -> Result<(), DataplaneError> {
    let (prefix_len, options) = host_address(address);
    netlink
        .add_address(index, address, prefix_len, options)
        .map_err(kernel_error(format!(
            "add address {address}/{prefix_len} dev {name}"
        )))
}

pub(super) fn create_parent(
    netlink: &mut Netlink,
    spec: &ParentSpec,
) -> Result<(), DataplaneError> {
    let (what, kind, parent, mtu) = match &spec.kind {
        ParentKind::Vlan { base, id } => {
            let what = format!(
                "create 802.1Q sub-interface {} (VLAN {id} on {base})",
                spec.name
            );
            let base = require(netlink, base, &what)?;
            (what, LinkKind::Vlan(*id), Some(base), None)
        }
        ParentKind::Dummy => (
            format!("create dummy link {}", spec.name),
            LinkKind::Dummy,
            None,
            Some(spec.mtu),
        ),
    };
    let index = netlink
        .create_link(&NewLink {
            name: spec.name.clone(),
            kind,
            parent,
            mtu,
            mac: None,
            up: true,
        })
        .map_err(kernel_error(what))?;
    if let Err(e) = netlink.set_link_alias(index, PARENT_ALIAS) {
        let _ = netlink.delete_link(&spec.name);
        return Err(kernel_error(format!("set alias of {}", spec.name))(e));
    }
    Ok(())
}
