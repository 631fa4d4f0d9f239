//! The one ethtool setting wharf changes: transmit checksum offload, which a veth into Open
//! vSwitch's userspace datapath must not use. That datapath reads frames from the host end
//! as bytes through a packet socket and forwards them as they are; a frame whose checksum the
//! container's kernel left for "the hardware" to fill in arrives at its destination with a
//! wrong one, and TCP drops it (ICMP, checksummed in software, still works).

use crate::error::{Error, Result};
use crate::link::check_name;

/// Turns transmit checksum offload of the link `name` (in the calling thread's network
/// namespace) on or off.
pub fn set_tx_checksum(name: &str, enabled: bool) -> Result<()> {
    check_name(name)?;
    crate::sys::set_tx_checksum(name, enabled).map_err(Error::Io)
}
