//! Proxy NDP entries. wharf no longer makes any (a routed container reaches its network's
//! other addresses through the gateway, see the routed mode); earlier versions put one per
//! other container on every routed host end, and reconciliation takes those away.

use std::collections::HashMap;

use wharf_netlink::{Family, Netlink};

use super::kernel_error;
use crate::dataplane::{ProxyNeighbour, Result};

pub(super) fn proxy_entries(
    netlink: &mut Netlink,
    links: &[String],
) -> Result<Vec<ProxyNeighbour>> {
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let names: HashMap<u32, String> = netlink
        .links()
        .map_err(kernel_error("list links"))?
        .into_iter()
        .filter(|link| links.contains(&link.name))
        .map(|link| (link.index, link.name))
        .collect();
    let entries = netlink
        .proxy_neighbours(Some(Family::V6))
        .map_err(kernel_error("list IPv6 proxy neighbours"))?;
    Ok(entries
        .into_iter()
        .filter_map(|entry| {
            let device = names.get(&entry.index)?.clone();
            Some(ProxyNeighbour {
                address: entry.address,
                device,
            })
        })
        .collect())
}

pub(super) fn remove_proxy_entries(
    netlink: &mut Netlink,
    entries: &[ProxyNeighbour],
) -> Result<()> {
    for entry in entries {
        let what = || {
            format!(
                "delete proxy neighbour {} dev {}",
                entry.address, entry.device
            )
        };
        let Some(link) = netlink
            .link_by_name(&entry.device)
            .map_err(kernel_error(what()))?
        else {
            continue; // the entry went with its link
        };
        netlink
            .delete_proxy_neighbour(link.index, entry.address)
            .map_err(kernel_error(what()))?;
    }
    Ok(())
}
