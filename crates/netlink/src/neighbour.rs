//! Proxy neighbour entries (`ip -6 neigh add proxy ADDR dev DEV`): the kernel answers neighbour
//! solicitations (or, for IPv4, ARP requests) for ADDR on DEV with its own MAC.

use std::net::IpAddr;

use crate::client::Netlink;
use crate::error::{tolerate, Error, Result};
use crate::headers::NdHeader;
use crate::link::index_field;
use crate::message::MessageWriter;
use crate::parse::{attributes, ip_value, split_header, RawMessage};
use crate::route::{family_of, Family};
use crate::uapi::{
    NDA_DST, NLM_F_CREATE, NLM_F_EXCL, NTF_PROXY, NUD_PERMANENT, RTM_DELNEIGH, RTM_GETNEIGH,
    RTM_NEWNEIGH,
};

/// A proxy entry as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyEntry {
    /// Interface index (0: an entry for every interface, which only IPv4 allows).
    pub index: u32,
    pub address: IpAddr,
}

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

    /// Lists the proxy entries of one family (`ip -6 neigh show proxy`).
    pub fn proxy_neighbours(&mut self, family: Family) -> Result<Vec<ProxyEntry>> {
        let header = NdHeader {
            family: family.code(),
            flags: NTF_PROXY,
            ..Default::default()
        }
        .encode();
        self.dump(RTM_GETNEIGH, &|m| m.header(&header), decode_proxy_entry)
    }
}

fn decode_proxy_entry(message: &RawMessage<'_>) -> Result<Option<ProxyEntry>> {
    let (header, rest) = split_header(message.payload, NdHeader::LEN, "neighbour")?;
    let family = header[0];
    let index = u32::from_ne_bytes([header[4], header[5], header[6], header[7]]);
    if header[10] & NTF_PROXY == 0 {
        return Ok(None);
    }
    for attribute in attributes(rest) {
        let attribute = attribute?;
        if attribute.kind == NDA_DST {
            let address = ip_value(family, &attribute)?;
            return Ok(Some(ProxyEntry { index, address }));
        }
    }
    Err(Error::malformed("proxy neighbour entry without NDA_DST"))
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
