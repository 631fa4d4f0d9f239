//! Resolving device names to interface indexes, once per name per call.

use std::collections::HashMap;

use wharf_netlink::Netlink;

use super::kernel_error;
use crate::dataplane::DataplaneError;

#[derive(Debug, Default)]
pub(super) struct DeviceIndexes {
    known: HashMap<String, Option<u32>>,
}

impl DeviceIndexes {
    /// The device's index, or `None` if there is no such device.
    pub(super) fn lookup(
        &mut self,
        netlink: &mut Netlink,
        name: &str,
        what: impl Fn() -> String,
    ) -> Result<Option<u32>, DataplaneError> {
        if let Some(known) = self.known.get(name) {
            return Ok(*known);
        }
        let index = netlink
            .link_by_name(name)
            .map_err(kernel_error(what()))?
            .map(|link| link.index);
        self.known.insert(name.to_owned(), index);
        Ok(index)
    }

    /// The device's index; a missing device is an error naming `what` needed it.
    pub(super) fn require(
        &mut self,
        netlink: &mut Netlink,
        name: &str,
        what: impl Fn() -> String,
    ) -> Result<u32, DataplaneError> {
        self.lookup(netlink, name, &what)?
            .ok_or_else(|| DataplaneError::Kernel {
                what: what(),
                errno: Some(libc::ENODEV),
                message: format!("no device named {name}"),
            })
    }
}
