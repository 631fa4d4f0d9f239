//! Links: veth pairs, deletion, listing, bringing up. Messages are `netlink-packet-route`'s
//! (see `link_codec`).

use crate::client::Netlink;
use crate::error::{tolerate, Error, Result};
use crate::link_codec::{decode_link, encode_create_veth, encode_link_dump, encode_link_request};
use crate::uapi::{
    MAX_IFALIAS_LEN, MAX_IFNAME_LEN, NLM_F_CREATE, NLM_F_EXCL, RTM_DELLINK, RTM_GETLINK,
    RTM_NEWLINK,
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
        let result = self.execute(RTM_DELLINK, 0, &|m| {
            encode_link_request(m, 0, Some(name), false, None)
        });
        tolerate(result, &[libc::ENODEV])
    }

    /// Lists every link in the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        self.dump(RTM_GETLINK, &encode_link_dump, |m| decode_link(m).map(Some))
    }

    /// Looks one link up by name; `None` if there is none.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>> {
        check_name(name)?;
        let found = self.get(
            RTM_GETLINK,
            &|m| encode_link_request(m, 0, Some(name), false, None),
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
        index_field(index)?;
        self.execute(RTM_NEWLINK, 0, &|m| {
            encode_link_request(m, index, None, true, None)
        })
    }

    /// Sets a link's alias (`ip link set … alias`).
    pub fn set_link_alias(&mut self, index: u32, alias: &str) -> Result<()> {
        check_alias(alias)?;
        index_field(index)?;
        self.execute(RTM_NEWLINK, 0, &|m| {
            encode_link_request(m, index, None, false, Some(alias))
        })
    }

    fn link_index(&mut self, name: &str) -> Result<u32> {
        self.link_by_name(name)?
            .map(|link| link.index)
            .ok_or_else(|| Error::malformed(format!("link {name} vanished right after creation")))
    }
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
