//! The kernel's own cost of one routed endpoint: what wharf's dataplane asks of the kernel for
//! an endpoint with one IPv4 address, done directly with the netlink crate and `/proc/sys`.
//! Must run on a thread inside the kernel side's namespace: `/proc/sys/net` is the calling
//! thread's namespace, and the socket is opened there.

use std::fs;
use std::net::IpAddr;

use wharf_netlink::{AddressOptions, Netlink, Route, VethPair};

/// wharf's mark on its routes (`proto 87`), so the kernel stores the same attributes.
const ROUTE_PROTOCOL: u8 = 87;
const MTU: u32 = 1500;

pub struct KernelSide {
    netlink: Netlink,
}

/// One endpoint as wharf would make it: names after the endpoint ID's first ten digits.
pub struct KernelEndpoint<'a> {
    pub index: usize,
    pub endpoint_id: &'a str,
    pub gateway: IpAddr,
    pub address: IpAddr,
}

impl KernelSide {
    /// Opens the netlink socket in the calling thread's namespace.
    pub fn open() -> Result<Self, String> {
        let netlink = Netlink::open().map_err(|e| format!("open netlink socket: {e}"))?;
        Ok(KernelSide { netlink })
    }

    /// The veth pair (host end up, MTU 1500, alias and container MAC as wharf sets them, the
    /// container end left here), the gateway /32 on the host end, the /32 host route
    /// `dev <host end> proto 87`, proxy_arp=1 and proxy_delay=0 on the host end.
    pub fn set_up(&mut self, endpoint: &KernelEndpoint<'_>) -> Result<(), String> {
        let host = host_name(endpoint.index);
        let veth = VethPair {
            name: host.clone(),
            peer_name: container_name(endpoint.index),
            mtu: MTU,
            alias: Some(format!("wharf:{}", endpoint.endpoint_id)),
            peer_mac: Some(mac(endpoint.index)),
            up: true,
        };
        let index = self
            .netlink
            .create_veth(&veth)
            .map_err(|e| format!("create veth pair {host}: {e}"))?;
        sysctl(&format!("net/ipv4/conf/{host}/proxy_arp"), "1")?;
        sysctl(&format!("net/ipv4/neigh/{host}/proxy_delay"), "0")?;
        self.netlink
            .add_address(index, endpoint.gateway, 32, AddressOptions::default())
            .map_err(|e| format!("add {}/32 dev {host}: {e}", endpoint.gateway))?;
        let route = Route::connected(endpoint.address, 32, index, ROUTE_PROTOCOL);
        self.netlink
            .add_route(&route)
            .map_err(|e| format!("add route {}/32 dev {host}: {e}", endpoint.address))
    }

    /// Deletes endpoint `index`'s pair (its address and route go with it).
    pub fn tear_down(&mut self, index: usize) -> Result<(), String> {
        let host = host_name(index);
        self.netlink
            .delete_link(&host)
            .map_err(|e| format!("delete link {host}: {e}"))
    }
}

fn host_name(index: usize) -> String {
    format!("wh{index:010x}")
}

fn container_name(index: usize) -> String {
    format!("wc{index:010x}")
}

/// A locally administered unicast MAC, unique per endpoint.
fn mac(index: usize) -> [u8; 6] {
    let [_, _, _, _, a, b, c, d] = (index as u64).to_be_bytes();
    [0x02, 0x42, a, b, c, d]
}

fn sysctl(path: &str, value: &str) -> Result<(), String> {
    let full = format!("/proc/sys/{path}");
    fs::write(&full, value).map_err(|e| format!("write {value} to {full}: {e}"))
}
