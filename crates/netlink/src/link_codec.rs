//! Links to and from `netlink-packet-route`'s `LinkMessage` (struct ifinfomsg and IFLA_*
//! attributes): veth pairs, the stacked kinds, up/alias changes, and decoding.

use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoVeth, InfoVlan, IpVlanFlags, IpVlanMode,
    LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};

use crate::error::{Error, Result};
use crate::link::{Link, VethPair};
use crate::link_kinds::{IpvlanFlag, IpvlanMode, LinkKind, MacvlanMode, NewLink};
use crate::message::MessageWriter;
use crate::parse::{parse_body, RawMessage};

/// The kernel announces a link it has just registered with every ifi_change bit set
/// (`rtnl_configure_link`, `register_netdevice`); later changes name the flags that changed.
const IFI_CHANGE_NEW_LINK: u32 = u32::MAX;

/// An ifinfomsg for a create request; `up` brings the new link up in the same request.
fn create_message(up: bool) -> LinkMessage {
    let mut message = LinkMessage::default();
    if up {
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
    }
    message
}

/// The veth create request: the first end's ifinfomsg and attributes, then IFLA_LINKINFO {
/// IFLA_INFO_KIND "veth", IFLA_INFO_DATA { VETH_INFO_PEER { peer ifinfomsg, attributes } } }.
/// No IFLA_IFALIAS: the kernel (checked on 6.18) silently ignores it in a create request.
pub(crate) fn encode_create_veth(m: &mut MessageWriter<'_>, veth: &VethPair) {
    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(veth.peer_name.clone()));
    peer.attributes.push(LinkAttribute::Mtu(veth.mtu));
    if let Some(mac) = veth.peer_mac {
        peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    let mut message = create_message(veth.up);
    message
        .attributes
        .push(LinkAttribute::IfName(veth.name.clone()));
    message.attributes.push(LinkAttribute::Mtu(veth.mtu));
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    m.emit(&message);
}

/// `ip link add NAME [link PARENT] [mtu M] [address MAC] type KIND ...` in one request.
pub(crate) fn encode_create_link(m: &mut MessageWriter<'_>, link: &NewLink) {
    let mut message = create_message(link.up);
    let attributes = &mut message.attributes;
    attributes.push(LinkAttribute::IfName(link.name.clone()));
    if let Some(parent) = link.parent {
        attributes.push(LinkAttribute::Link(parent));
    }
    if let Some(mtu) = link.mtu {
        attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(mac) = link.mac {
        attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    let info = match link.kind {
        LinkKind::Dummy => vec![LinkInfo::Kind(InfoKind::Dummy)],
        LinkKind::Vlan(id) => vec![
            LinkInfo::Kind(InfoKind::Vlan),
            LinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(id)])),
        ],
        LinkKind::Macvlan(mode) => vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(macvlan_mode(
                mode,
            ))])),
        ],
        LinkKind::Ipvlan(mode, flag) => vec![
            LinkInfo::Kind(InfoKind::IpVlan),
            LinkInfo::Data(InfoData::IpVlan(vec![
                InfoIpVlan::Mode(ipvlan_mode(mode)),
                InfoIpVlan::Flags(ipvlan_flags(flag)),
            ])),
        ],
    };
    attributes.push(LinkAttribute::LinkInfo(info));
    m.emit(&message);
}

fn macvlan_mode(mode: MacvlanMode) -> MacVlanMode {
    match mode {
        MacvlanMode::Private => MacVlanMode::Private,
        MacvlanMode::Vepa => MacVlanMode::Vepa,
        MacvlanMode::Bridge => MacVlanMode::Bridge,
        MacvlanMode::Passthru => MacVlanMode::Passthrough,
    }
}

fn ipvlan_mode(mode: IpvlanMode) -> IpVlanMode {
    match mode {
        IpvlanMode::L2 => IpVlanMode::L2,
        IpvlanMode::L3 => IpVlanMode::L3,
        IpvlanMode::L3s => IpVlanMode::L3S,
    }
}

fn ipvlan_flags(flag: IpvlanFlag) -> IpVlanFlags {
    match flag {
        IpvlanFlag::Bridge => IpVlanFlags::empty(),
        IpvlanFlag::Private => IpVlanFlags::Private,
        IpvlanFlag::Vepa => IpVlanFlags::Vepa,
    }
}

/// A request naming one link: by index (`index` non-zero) or by name, with extra attributes.
pub(crate) fn encode_link_request(
    m: &mut MessageWriter<'_>,
    index: u32,
    name: Option<&str>,
    up: bool,
    alias: Option<&str>,
) {
    let mut message = LinkMessage::default();
    message.header.index = index;
    if up {
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
    }
    if let Some(name) = name {
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
    }
    if let Some(alias) = alias {
        message
            .attributes
            .push(LinkAttribute::IfAlias(alias.to_owned()));
    }
    m.emit(&message);
}

/// A link dump request: an all-zero ifinfomsg (strict checking refuses anything else).
pub(crate) fn encode_link_dump(m: &mut MessageWriter<'_>) {
    m.emit(&LinkMessage::default());
}

pub(crate) fn decode_link(message: &RawMessage<'_>) -> Result<Link> {
    Ok(decode_link_change(message)?.0)
}

/// The link, and whether the kernel announced it as new (see [`IFI_CHANGE_NEW_LINK`]).
pub(crate) fn decode_link_change(message: &RawMessage<'_>) -> Result<(Link, bool)> {
    let decoded: LinkMessage = parse_body(message.payload, "link")?;
    let header = &decoded.header;
    let mut link = Link {
        index: header.index,
        name: String::new(),
        alias: None,
        mac: None,
        mtu: 0,
        up: header.flags.contains(LinkFlags::Up),
        kind: None,
    };
    for attribute in &decoded.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::IfAlias(alias) => {
                link.alias = Some(alias.clone()).filter(|a| !a.is_empty())
            }
            LinkAttribute::Address(mac) => link.mac = <[u8; 6]>::try_from(mac.as_slice()).ok(),
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::LinkInfo(infos) => {
                link.kind = infos.iter().find_map(|info| match info {
                    LinkInfo::Kind(kind) => Some(kind.to_string()),
                    _ => None,
                });
            }
            _ => {}
        }
    }
    if link.name.is_empty() {
        return Err(Error::malformed(format!(
            "link {} without a name",
            link.index
        )));
    }
    let new = header.change_mask.bits() == IFI_CHANGE_NEW_LINK;
    Ok((link, new))
}
