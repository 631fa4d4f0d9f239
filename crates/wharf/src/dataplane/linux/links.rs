//! Links: routed endpoints' veth pairs, macvlan and ipvlan links on a parent, the 802.1Q
//! sub-interfaces and dummies wharf creates as parents, and looking links up.

use wharf_netlink::{LinkKind, Netlink, NewLink, VethPair};

use super::devices::MadeLinks;
use super::{kernel_error, sysctl};
use crate::dataplane::{
    DataplaneError, HostEnd, IpvlanFlag, IpvlanMode, LinkInfo, MacvlanMode, OwnedLink, ParentKind,
    ParentSpec, Result, SubLinkKind, SubLinkSpec, VethSpec, LINK_ALIAS_PREFIX, PARENT_ALIAS,
};

/// Creates the pair, then everything on its host end; deletes the pair again if a step after
/// its creation fails (returning that step's error).
pub(super) fn create_veth(netlink: &mut Netlink, made: &MadeLinks, spec: &VethSpec) -> Result<()> {
    let veth = VethPair {
        name: spec.host_ifname.clone(),
        peer_name: spec.container_ifname.clone(),
        mtu: spec.mtu,
        alias: Some(spec.alias.clone()),
        peer_mac: Some(spec.container_mac),
        up: true,
    };
    // If this fails nothing was created, and a link already carrying the name is not ours to
    // delete.
    let index = netlink.create_veth(&veth).map_err(kernel_error(format!(
        "create veth pair {} / {}",
        spec.host_ifname, spec.container_ifname
    )))?;
    let tuned = tune_host_end(spec);
    if tuned.is_err() {
        // If even this fails, reconciliation finds the link by its alias later.
        let _ = netlink.delete_link(&spec.host_ifname);
        return tuned;
    }
    made.made(&spec.host_ifname, index);
    Ok(())
}

fn tune_host_end(spec: &VethSpec) -> Result<()> {
    let host = &spec.host_ifname;
    if let HostEnd::SwitchPort { software_checksums } = spec.host_end {
        // With ovs-vswitchd's userspace datapath the kernel still sees every frame on the
        // port: it must neither answer ARP (8: never) for the host's addresses nor speak
        // IPv6 there.
        sysctl::write(&format!("net/ipv4/conf/{host}/arp_ignore"), "8")?;
        sysctl::write(&format!("net/ipv6/conf/{host}/disable_ipv6"), "1")?;
        if software_checksums {
            let container = &spec.container_ifname;
            wharf_netlink::ethtool::set_tx_checksum(container, false).map_err(kernel_error(
                format!("turn off transmit checksum offload of {container}"),
            ))?;
        }
        return Ok(());
    }
    // Answer ARP for every address the host can route elsewhere (the other containers, the
    // gateway), and at once: proxied replies are otherwise delayed by up to proxy_delay (0.8 s).
    sysctl::enable(&format!("net/ipv4/conf/{host}/proxy_arp"))?;
    sysctl::write(&format!("net/ipv4/neigh/{host}/proxy_delay"), "0")?;
    if spec.ipv6 {
        // Without this the host end's link-local address stays tentative for a second or two
        // after the container end comes up, and the host sends no neighbour solicitations
        // for forwarded packets until it is valid: the container's first pings are lost.
        sysctl::write(&format!("net/ipv6/conf/{host}/accept_dad"), "0")?;
    }
    Ok(())
}

pub(super) fn info(netlink: &mut Netlink, name: &str) -> Result<Option<LinkInfo>> {
    let link = netlink
        .link_by_name(name)
        .map_err(kernel_error(format!("look up interface {name}")))?;
    Ok(link.map(|l| LinkInfo {
        owned_parent: l.alias.as_deref() == Some(PARENT_ALIAS),
        alias: l.alias.clone(),
        name: l.name,
        mtu: l.mtu,
        mac: l.mac,
    }))
}

pub(super) fn owned(netlink: &mut Netlink) -> Result<Vec<OwnedLink>> {
    let links = netlink.links().map_err(kernel_error("list links"))?;
    Ok(links
        .into_iter()
        .filter_map(|link| {
            let alias = link.alias?;
            alias.starts_with(LINK_ALIAS_PREFIX).then_some(OwnedLink {
                name: link.name,
                alias,
            })
        })
        .collect())
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
fn require(netlink: &mut Netlink, name: &str, what: &str) -> Result<u32> {
    netlink
        .link_by_name(name)
        .map_err(kernel_error(what))?
        .map(|link| link.index)
        .ok_or_else(|| DataplaneError::Kernel {
            what: what.into(),
            errno: Some(libc::ENODEV),
            message: format!("{name} does not exist"),
        })
}

pub(super) fn create_sub_link(
    netlink: &mut Netlink,
    made: &MadeLinks,
    spec: &SubLinkSpec,
) -> Result<()> {
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
        return finished;
    }
    made.made(&spec.name, index);
    Ok(())
}

/// The alias (the kernel ignores one in a create request), then up if asked.
fn finish_sub_link(netlink: &mut Netlink, spec: &SubLinkSpec, index: u32) -> Result<()> {
    netlink
        .set_link_alias(index, &spec.alias)
        .map_err(kernel_error(format!("set alias of {}", spec.name)))?;
    if !spec.up {
        return Ok(());
    }
    netlink
        .set_link_up(index)
        .map_err(kernel_error(format!("set {} up", spec.name)))
}

pub(super) fn create_parent(
    netlink: &mut Netlink,
    made: &MadeLinks,
    spec: &ParentSpec,
) -> Result<()> {
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
    made.made(&spec.name, index);
    Ok(())
}
