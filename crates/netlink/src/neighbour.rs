//! Proxy neighbour entries (`ip -6 neigh add proxy ADDR dev DEV`): the kernel answers neighbour
//! solicitations (or, for IPv4, ARP requests) for ADDR on DEV with its own MAC.

use std::net::IpAddr;

use crate::client::Netlink;
use crate::error::{tolerate, Result};
use crate::headers::NdHeader;
use crate::link::index_field;
use crate::message::MessageWriter;
use crate::route::family_of;
use crate::uapi::{
    NDA_DST, NLM_F_CREATE, NLM_F_EXCL, NTF_PROXY, NUD_PERMANENT, RTM_DELNEIGH, RTM_NEWNEIGH,
};

impl Netlink {
    /// Adds a proxy entry; one already present is success.
    pub fn add_proxy_neighbour(&mut self, index: u32, address: IpAddr) -> Result<()> {
        let index = index_field(index)?;
        let result = self.execute(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, &|m| {
            encode_proxy_neighbour(m, index, address)
        });
        tolerate(result, &[libc::EEXIST])
    }

    /// Deletes a proxy entry; one already gone is success.
    pub fn delete_proxy_neighbour(&mut self, index: u32, address: IpAddr) -> Result<()> {
        let index = index_field(index)?;
        let result = self.execute(RTM_DELNEIGH, 0, &|m| {
            encode_proxy_neighbour(m, index, address)
        });
        tolerate(result, &[libc::ENOENT])
    }
}

fn encode_proxy_neighbour(m: &mut MessageWriter<'_>, index: i32, address: IpAddr) {
    m.header(
        &NdHeader {
            family: family_of(address),
            index,
            state: NUD_PERMANENT,
            flags: NTF_PROXY,
            kind: 0,
        }
        .encode(),
    );
    m.attr_ip(NDA_DST, address);
}
