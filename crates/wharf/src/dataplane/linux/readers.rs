//! Which programs listen to the kernel's route changes: a netlink socket of the route family
//! in the IPv4 or IPv6 route multicast group (`/proc/net/netlink`), tied to its process by
//! the socket's inode among the processes' open files. A routing daemon exporting kernel
//! routes (FRR's zebra, BIRD) holds one: it has seen wharf's routes as the kernel took them.

use std::collections::{BTreeSet, HashSet};
use std::fs;

use crate::dataplane::{DataplaneError, Result, RouteReader};

/// Bits of the first 32 multicast groups, as /proc/net/netlink's Groups column shows them:
/// RTNLGRP_IPV4_ROUTE (7) and RTNLGRP_IPV6_ROUTE (11), bit N-1 each.
const ROUTE_GROUPS: u32 = 1 << (7 - 1) | 1 << (11 - 1);
/// NETLINK_ROUTE, the Eth column.
const NETLINK_ROUTE: u32 = 0;

/// Inodes of route-family sockets in a route group, from /proc/net/netlink's text.
pub(super) fn listening_inodes(table: &str) -> HashSet<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let family: u32 = fields.get(1)?.parse().ok()?;
            let groups = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            let inode: u64 = fields.get(9)?.parse().ok()?;
            (family == NETLINK_ROUTE && groups & ROUTE_GROUPS != 0).then_some(inode)
        })
        .collect()
}

/// `socket:[INODE]`, as a socket's entry in /proc/PID/fd reads.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The processes, other than this one, holding a socket that listens to route changes in the
/// calling thread's network namespace. Processes that go while being read are skipped.
pub(super) fn route_readers() -> Result<Vec<RouteReader>> {
    let path = "/proc/thread-self/net/netlink";
    let table = fs::read_to_string(path)
        .map_err(|e| DataplaneError::other(format!("read {path}"), e.to_string()))?;
    let inodes = listening_inodes(&table);
    let mut readers = BTreeSet::new();
    if inodes.is_empty() {
        return Ok(Vec::new());
    }
    let own = std::process::id();
    let processes =
        fs::read_dir("/proc").map_err(|e| DataplaneError::other("list /proc", e.to_string()))?;
    for entry in processes.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let listens = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .ok()
                .and_then(|target| socket_inode(&target.to_string_lossy()))
                .is_some_and(|inode| inodes.contains(&inode))
        });
        if listens {
            let program = fs::read_to_string(entry.path().join("comm"))
                .map(|c| c.trim().to_owned())
                .unwrap_or_default();
            readers.insert(RouteReader { pid, program });
        }
    }
    Ok(readers.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_listeners_are_told_from_other_netlink_sockets() {
        let table = "\
sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
0000000002c2f8e2 0   7012       00000000 832      0        0     2        0        100
0000000089037416 0   2192       00000551 0        0        0     2        0        101
000000000f0732f2 0   2998       00000400 0        0        0     2        0        102
00000000de11e1e9 9   0          00000040 0        0        0     2        0        103
00000000de11e1ea 0   77         00000001 0        0        0     2        0        104
garbage line
00000000de11e1eb 0   78         zz       0        0        0     2        0        105
";
        let mut found: Vec<u64> = listening_inodes(table).into_iter().collect();
        found.sort();
        // 101: IPv4 and IPv6 routes (zebra's 0x551); 102: IPv6 routes only. Not 100 (no
        // group), 103 (audit, not route), 104 (links only), nor the unreadable lines.
        assert_eq!(found, [101, 102]);
        assert_eq!(socket_inode("socket:[101]"), Some(101));
        assert_eq!(socket_inode("pipe:[101]"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
    }
}
