//! Addresses inside a container's namespace, once Docker has moved the container end in.

use std::thread;
use std::time::{Duration, Instant};

use wharf_netlink::{AddressOptions, Netlink};

use super::kernel_error;
use crate::dataplane::{DataplaneError, SandboxAddresses};

/// How often to look for the link while Docker is still moving it.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

pub(super) fn configure(sandbox: &SandboxAddresses) -> Result<(), DataplaneError> {
    let namespace = sandbox.netns_path.display();
    let deadline = Instant::now() + sandbox.timeout;
    let mut netlink = open_when_ready(sandbox, deadline)?;
    let index = wait_for_link(&mut netlink, sandbox, deadline)?;
    for address in &sandbox.addresses {
        let options = AddressOptions {
            nodad: address.addr().is_ipv6(),
            no_prefix_route: false,
        };
        netlink
            .add_address(index, address.addr(), address.prefix_len(), options)
            .map_err(kernel_error(format!(
                "add address {address} in {namespace}"
            )))?;
    }
    Ok(())
}

/// Opens the sandbox's namespace, waiting for it: when Docker starts a container, Join comes
/// before the namespace file exists (and before the namespace is bind-mounted onto it).
fn open_when_ready(
    sandbox: &SandboxAddresses,
    deadline: Instant,
) -> Result<Netlink, DataplaneError> {
    let what = format!("open network namespace {}", sandbox.netns_path.display());
    loop {
        match Netlink::open_in_netns(&sandbox.netns_path) {
            Ok(netlink) => return Ok(netlink),
            Err(e) if Instant::now() >= deadline => {
                return Err(kernel_error(what)(e));
            }
            Err(_) => thread::sleep(POLL_INTERVAL),
        }
    }
}

/// Polls the namespace's links until one has the sandbox's MAC (its name changes on the way
/// in; its MAC does not) and, if asked, carries the address.
fn wait_for_link(
    netlink: &mut Netlink,
    sandbox: &SandboxAddresses,
    deadline: Instant,
) -> Result<u32, DataplaneError> {
    let what = || {
        let with = sandbox
            .with_address
            .map(|a| format!(" and address {a}"))
            .unwrap_or_default();
        format!(
            "find link with MAC {}{with} in {}",
            format_mac(&sandbox.mac),
            sandbox.netns_path.display()
        )
    };
    loop {
        let links = netlink.links().map_err(kernel_error(what()))?;
        let candidates = links.iter().filter(|link| link.mac == Some(sandbox.mac));
        let mut found = None;
        for link in candidates {
            let carries = match sandbox.with_address {
                None => true,
                Some(wanted) => netlink
                    .addresses(Some(link.index))
                    .map_err(kernel_error(what()))?
                    .iter()
                    .any(|a| a.address == wanted),
            };
            if carries {
                found = Some(link.index);
                break;
            }
        }
        if let Some(index) = found {
            return Ok(index);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(DataplaneError::Timeout {
                what: what(),
                after: sandbox.timeout,
            });
        }
        thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

fn format_mac(mac: &[u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}
