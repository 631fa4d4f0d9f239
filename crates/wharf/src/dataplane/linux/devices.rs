//! Resolving device names to interface indexes: once per name per call, and not at all for a
//! link this dataplane just made (the addresses and routes of a new endpoint follow its link
//! at once). An index the kernel gave stays that link's until it is deleted, and is not soon
//! given to another (they are allocated in a cycle); a stale one fails with ENODEV, on which
//! callers forget it and look the name up.

use std::collections::HashMap;
use std::sync::Mutex;

use wharf_netlink::Netlink;

use super::kernel_error;
use crate::dataplane::DataplaneError;

/// How many made links to remember (the newest few are the ones asked for again).
const REMEMBERED: usize = 1024;

/// Links this dataplane made, by name.
#[derive(Debug, Default)]
pub(super) struct MadeLinks {
    indexes: Mutex<HashMap<String, u32>>,
}

impl MadeLinks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.indexes.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn made(&self, name: &str, index: u32) {
        let mut indexes = self.lock();
        if indexes.len() >= REMEMBERED {
            indexes.clear();
        }
        indexes.insert(name.to_owned(), index);
    }

    pub(super) fn forget(&self, name: &str) {
        self.lock().remove(name);
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.lock().get(name).copied()
    }
}

#[derive(Debug)]
pub(super) struct DeviceIndexes<'a> {
    known: HashMap<String, Option<u32>>,
    made: &'a MadeLinks,
}

impl<'a> DeviceIndexes<'a> {
    pub(super) fn new(made: &'a MadeLinks) -> Self {
        DeviceIndexes {
            known: HashMap::new(),
            made,
        }
    }

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
        let index = match self.made.get(name) {
            Some(index) => Some(index),
            None => netlink
                .link_by_name(name)
                .map_err(kernel_error(what()))?
                .map(|link| link.index),
        };
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

    /// Runs `request` on the device's index; if the kernel says there is no such device (a
    /// remembered index gone stale), forgets it and tries once more with a fresh look-up.
    pub(super) fn on_device<T>(
        &mut self,
        netlink: &mut Netlink,
        name: &str,
        what: impl Fn() -> String,
        request: impl Fn(&mut Netlink, u32) -> wharf_netlink::Result<T>,
    ) -> Result<T, DataplaneError> {
        let index = self.require(netlink, name, &what)?;
        match request(netlink, index) {
            Err(error) if error.errno() == Some(libc::ENODEV) => {
                self.known.remove(name);
                self.made.forget(name);
                let fresh = netlink
                    .link_by_name(name)
                    .map_err(kernel_error(what()))?
                    .map(|link| link.index);
                self.known.insert(name.to_owned(), fresh);
                let index = self.require(netlink, name, &what)?;
                request(netlink, index).map_err(kernel_error(what()))
            }
            other => other.map_err(kernel_error(what())),
        }
    }
}
