//! What the [`Switches`](super::Switches) capability is asked for and answers: Open vSwitch
//! bridges and their ports, described as plain values.

use std::net::IpAddr;

use super::{DataplaneError, Result};

/// The key and value in `external_ids` of every Bridge, Port and Interface row wharf
/// writes. Only rows carrying it are ever changed or deleted: anything else in OVSDB
/// belongs to someone else.
pub const OVS_OWNER_KEY: &str = "wharf";
pub const OVS_OWNER_VALUE: &str = "owned";

/// Which datapath a bridge forwards with: the kernel module (`system`) or ovs-vswitchd's
/// userspace one (`netdev`), which works where the openvswitch module is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Datapath {
    System,
    Netdev,
}

impl Datapath {
    /// The Bridge row's `datapath_type` value.
    pub fn ovs_name(self) -> &'static str {
        match self {
            Datapath::System => "system",
            Datapath::Netdev => "netdev",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    pub name: String,
    pub datapath: Datapath,
    /// Asked of ovs-vswitchd for the bridge's own (internal) interface.
    pub mtu: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortKind {
    /// An existing kernel link (e.g. a veth's host end) attached to the bridge.
    System,
    /// A VXLAN tunnel port toward `remote` with VNI `key`.
    Vxlan { remote: IpAddr, key: u32 },
    /// A port with an interface of its own that ovs-vswitchd makes as a kernel link (a
    /// network's gateway), with the MTU asked of it.
    Internal {
        mtu: Option<u32>,
        /// The interface's MAC; a port made again with the same one keeps the neighbours'
        /// ARP entries for it valid.
        mac: Option<[u8; 6]>,
    },
}

/// Which VLANs a port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortVlan {
    /// Every VLAN, tagged (an uplink: the trunk the bridge's networks share).
    Trunk,
    /// Untagged frames only (VLAN 0): a port of an untagged network, which must neither
    /// reach a tagged network's VLAN by sending tagged frames nor, as a tunnel, carry one
    /// (two paths for one VLAN between two bridges would be a loop).
    Untagged,
    /// An access port of this VLAN (1..=4094): frames in and out untagged.
    Access(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub bridge: String,
    pub name: String,
    pub vlan: PortVlan,
    pub kind: PortKind,
}

impl PortSpec {
    /// Refuses a tag OVSDB would reject (0 and 4095 are not usable VLAN IDs), with a
    /// message that says so rather than the server's constraint error.
    pub fn check(&self) -> Result<()> {
        match self.vlan {
            PortVlan::Access(tag) if !(1..=4094).contains(&tag) => Err(DataplaneError::other(
                format!("add port {} to bridge {}", self.name, self.bridge),
                format!("VLAN tag {tag} is out of range: it must be 1 to 4094"),
            )),
            _ => Ok(()),
        }
    }
}

/// A port of a wharf-owned bridge, as OVSDB has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnedPort {
    pub name: String,
    pub vlan: PortVlan,
    pub kind: PortKind,
}

/// A wharf-owned bridge and its wharf-owned ports (not counting the bridge's own
/// internal port), as OVSDB has them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnedBridge {
    pub name: String,
    pub datapath: Datapath,
    pub ports: Vec<OwnedPort>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(tag: Option<u16>) -> PortSpec {
        PortSpec {
            bridge: "br".into(),
            name: "p".into(),
            vlan: tag.map_or(PortVlan::Untagged, PortVlan::Access),
            kind: PortKind::System,
        }
    }

    #[test]
    fn only_usable_vlan_tags_pass() {
        for ok in [None, Some(1), Some(10), Some(4094)] {
            assert!(port(ok).check().is_ok(), "{ok:?}");
        }
        for bad in [0, 4095, 5000] {
            let error = port(Some(bad)).check().unwrap_err().to_string();
            assert!(
                error.contains(&format!("VLAN tag {bad} is out of range")),
                "{error}"
            );
        }
    }
}
