//! Links: veth pairs, deletion, listing, bringing up.

use crate::client::Netlink;
use crate::error::{tolerate, Error, Result};
use crate::headers::IfInfoHeader;
use crate::message::MessageWriter;
use crate::parse::{attributes, split_header, string_value, u32_value, RawMessage};
use crate::uapi::{
    IFF_UP, IFLA_ADDRESS, IFLA_IFALIAS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO,
    IFLA_MTU, MAX_IFALIAS_LEN, MAX_IFNAME_LEN, NLM_F_CREATE, NLM_F_EXCL, RTM_DELLINK, RTM_GETLINK,
    RTM_NEWLINK, VETH_INFO_PEER,
};

/// A veth pair to create. The peer stays down (whoever moves it into a container brings it up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethPair {
    pub name: String,
    pub peer_name: String,
    /// MTU of both ends.
    pub mtu: u32,
    /// Alias (`ip link set … alias`) of the first end.
    pub alias: Option<String>,
    pub peer_mac: Option<[u8; 6]>,
    /// Whether the first end is brought up.
    pub up: bool,
}

/// A link as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    /// The hardware address, if it is a 6-byte (Ethernet) one.
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// IFF_UP: administratively up.
    pub up: bool,
    /// IFLA_INFO_KIND ("veth", "bridge", …); `None` for links without one (`lo`, physical NICs).
    pub kind: Option<String>,
}

impl Netlink {
    /// Creates a veth pair in one RTM_NEWLINK request (names, MTUs, peer MAC, first end up),
    /// then sets the alias, which the kernel ignores in a create request (only its "change
    /// link" path reads IFLA_IFALIAS). Returns the first end's interface index. If setting
    /// the alias fails the pair is deleted again.
    pub fn create_veth(&mut self, veth: &VethPair) -> Result<u32> {
        check_name(&veth.name)?;
        check_name(&veth.peer_name)?;
        if let Some(alias) = &veth.alias {
            check_alias(alias)?;
        }
        self.execute(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &|m| {
            encode_create_veth(m, veth)
        })?;
        let configured = self.link_index(&veth.name).and_then(|index| {
            if let Some(alias) = &veth.alias {
                self.set_link_alias(index, alias)?;
            }
            Ok(index)
        });
        if configured.is_err() {
            let _ = self.delete_link(&veth.name);
        }
        configured
    }

    /// Deletes a link by name (a veth's peer goes with it). A missing link is success.
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        check_name(name)?;
        let header = IfInfoHeader::default().encode();
        let result = self.execute(RTM_DELLINK, 0, &|m| {
            m.header(&header);
            m.attr_str(IFLA_IFNAME, name);
        });
        tolerate(result, &[libc::ENODEV])
    }

    /// Lists every link in the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let header = IfInfoHeader::default().encode();
        self.dump(RTM_GETLINK, &|m| m.header(&header), |m| {
            decode_link(m).map(Some)
        })
    }

    /// Looks one link up by name; `None` if there is none.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>> {
        check_name(name)?;
        let header = IfInfoHeader::default().encode();
        let found = self.get(
            RTM_GETLINK,
            &|m| {
                m.header(&header);
                m.attr_str(IFLA_IFNAME, name);
            },
            decode_link,
        );
        match found {
            Ok(link) => Ok(Some(link)),
            Err(error) if error.errno() == Some(libc::ENODEV) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Brings a link up (IFF_UP).
    pub fn set_link_up(&mut self, index: u32) -> Result<()> {
        let header = IfInfoHeader {
            index: index_field(index)?,
            flags: IFF_UP,
            change: IFF_UP,
            ..Default::default()
        }
        .encode();
        self.execute(RTM_NEWLINK, 0, &|m| m.header(&header))
    }

    /// Sets a link's alias (`ip link set … alias`).
    pub fn set_link_alias(&mut self, index: u32, alias: &str) -> Result<()> {
        check_alias(alias)?;
        let header = IfInfoHeader {
            index: index_field(index)?,
            ..Default::default()
        }
        .encode();
        self.execute(RTM_NEWLINK, 0, &|m| {
            m.header(&header);
            m.attr_str(IFLA_IFALIAS, alias);
        })
    }

    fn link_index(&mut self, name: &str) -> Result<u32> {
        self.link_by_name(name)?
            .map(|link| link.index)
            .ok_or_else(|| Error::malformed(format!("link {name} vanished right after creation")))
    }
}

/// The body of the veth create request: first end's ifinfomsg and attributes, then
/// IFLA_LINKINFO { IFLA_INFO_KIND "veth", IFLA_INFO_DATA { VETH_INFO_PEER { peer ifinfomsg,
/// peer attributes } } }. No IFLA_IFALIAS: the kernel (checked on 6.18) silently ignores it
/// in a create request.
pub(crate) fn encode_create_veth(m: &mut MessageWriter<'_>, veth: &VethPair) {
    m.header(&IfInfoHeader::for_create(veth.up).encode());
    m.attr_str(IFLA_IFNAME, &veth.name);
    m.attr_u32(IFLA_MTU, veth.mtu);
    let link_info = m.begin_nested(IFLA_LINKINFO);
    m.attr_str(IFLA_INFO_KIND, "veth");
    let info_data = m.begin_nested(IFLA_INFO_DATA);
    let peer = m.begin_nested(VETH_INFO_PEER);
    m.header(&IfInfoHeader::default().encode());
    m.attr_str(IFLA_IFNAME, &veth.peer_name);
    m.attr_u32(IFLA_MTU, veth.mtu);
    if let Some(mac) = &veth.peer_mac {
        m.attr(IFLA_ADDRESS, mac);
    }
    m.end_nested(peer);
    m.end_nested(info_data);
    m.end_nested(link_info);
}

pub(crate) fn decode_link(message: &RawMessage<'_>) -> Result<Link> {
    let (header, attrs) = split_header(message.payload, IfInfoHeader::LEN, "link")?;
    let header = IfInfoHeader::decode(header)?;
    let mut link = Link {
        index: u32::try_from(header.index)
            .map_err(|_| Error::malformed(format!("link index {}", header.index)))?,
        name: String::new(),
        alias: None,
        mac: None,
        mtu: 0,
        up: header.flags & IFF_UP != 0,
        kind: None,
    };
    for attribute in attributes(attrs) {
        let attribute = attribute?;
        match attribute.kind {
            IFLA_IFNAME => link.name = string_value(&attribute),
            IFLA_IFALIAS => link.alias = Some(string_value(&attribute)).filter(|a| !a.is_empty()),
            IFLA_ADDRESS => link.mac = <[u8; 6]>::try_from(attribute.payload).ok(),
            IFLA_MTU => link.mtu = u32_value(&attribute)?,
            IFLA_LINKINFO => {
                for info in attributes(attribute.payload) {
                    let info = info?;
                    if info.kind == IFLA_INFO_KIND {
                        link.kind = Some(string_value(&info));
                    }
                }
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
    Ok(link)
}

/// Interface names the kernel accepts (`dev_valid_name`): 1-15 bytes, no '/', ':' or
/// whitespace, not "." or "..". Checked here so the caller gets a clear message, not EINVAL.
pub fn check_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_IFNAME_LEN {
        Some("is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("is reserved")
    } else if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
    {
        Some("contains '/', ':', a NUL or whitespace")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::Invalid(format!("interface name {name:?} {problem}"))),
        None => Ok(()),
    }
}

fn check_alias(alias: &str) -> Result<()> {
    if alias.len() > MAX_IFALIAS_LEN || alias.contains('\0') {
        return Err(Error::Invalid(format!(
            "link alias {alias:?} is longer than {MAX_IFALIAS_LEN} bytes or contains a NUL"
        )));
    }
    Ok(())
}

/// ifinfomsg carries the index as a signed int.
pub(crate) fn index_field(index: u32) -> Result<i32> {
    i32::try_from(index)
        .map_err(|_| Error::Invalid(format!("interface index {index} out of range")))
}
