//! Writing `/proc/sys` settings. They apply to the network namespace of the calling thread.

use std::fs;

use crate::dataplane::DataplaneError;

/// Writes "1" to `/proc/sys/<path>` (`path` like `net/ipv4/conf/wh01/proxy_arp`).
pub(super) fn enable(path: &str) -> Result<(), DataplaneError> {
    write(path, "1")
}

pub(super) fn write(path: &str, value: &str) -> Result<(), DataplaneError> {
    let full = format!("/proc/sys/{path}");
    fs::write(&full, value).map_err(|error| DataplaneError::Kernel {
        what: format!("write {value} to {full}"),
        errno: error.raw_os_error(),
        message: error.to_string(),
    })
}
