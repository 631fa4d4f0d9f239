//! Helpers shared by the kernel test files: each test runs in a throwaway network namespace.
#![allow(dead_code)] // each test file uses its own subset

use std::net::IpAddr;

use wharf_netlink::netns::run_in_new_netns;
use wharf_netlink::{AddressOptions, Netlink, VethPair};

/// Runs `test` in a new network namespace with `lo` up.
pub fn in_new_netns(test: impl FnOnce(&mut Netlink) + Send) {
    run_in_new_netns(|| {
        let mut netlink = Netlink::open().expect("open netlink");
        let lo = netlink
            .link_by_name("lo")
            .expect("find lo")
            .expect("lo exists");
        netlink.set_link_up(lo.index).expect("lo up");
        test(&mut netlink);
    })
    .expect("run in a new network namespace");
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// A veth pair, both ends up, with `address`/`prefix_len` on the first end (IPv6 without
/// DAD, so a gateway behind it is usable at once). Returns the first end's index.
pub fn uplink(netlink: &mut Netlink, name: &str, address: &str, prefix_len: u8) -> u32 {
    let peer = format!("{name}p");
    let index = netlink
        .create_veth(&VethPair {
            name: name.into(),
            peer_name: peer.clone(),
            mtu: 1500,
            alias: None,
            peer_mac: None,
            up: true,
        })
        .expect("create veth");
    let peer_index = netlink
        .link_by_name(&peer)
        .expect("find peer")
        .expect("peer exists")
        .index;
    netlink.set_link_up(peer_index).expect("peer up");
    let options = AddressOptions {
        nodad: true,
        no_prefix_route: false,
    };
    netlink
        .add_address(index, ip(address), prefix_len, options)
        .expect("address");
    index
}

/// `ip ARGS` run from this thread (a child process starts in the thread's namespace).
pub fn ip_command(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
