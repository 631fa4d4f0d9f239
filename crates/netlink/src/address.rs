//! Interface addresses.

use std::net::IpAddr;

use crate::client::Netlink;
use crate::error::{tolerate, Error, Result};
use crate::headers::IfAddrHeader;
use crate::message::MessageWriter;
use crate::parse::{attributes, ip_value, split_header, u32_value, RawMessage};
use crate::route::family_of;
use crate::uapi::{
    AF_UNSPEC, IFA_ADDRESS, IFA_FLAGS, IFA_F_NODAD, IFA_F_NOPREFIXROUTE, IFA_LOCAL, NLM_F_CREATE,
    NLM_F_EXCL, RTM_GETADDR, RTM_NEWADDR,
};

/// Flags for a new address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressOptions {
    /// IPv6: skip duplicate address detection, so the address is usable at once instead of
    /// "tentative" for about a second.
    pub nodad: bool,
    /// Do not add the prefix route the kernel adds for the address's subnet (IFA_F_NOPREFIXROUTE).
    pub no_prefix_route: bool,
}

/// An address as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
    /// IFA_F_* flags (from IFA_FLAGS when present, which extends the 8-bit header field).
    pub flags: u32,
    pub scope: u8,
}

impl Netlink {
    /// Adds an address to a link. An address already present is success.
    pub fn add_address(
        &mut self,
        index: u32,
        address: IpAddr,
        prefix_len: u8,
        options: AddressOptions,
    ) -> Result<()> {
        check_prefix_len(address, prefix_len)?;
        let result = self.execute(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &|m| {
            encode_address(m, index, address, prefix_len, options)
        });
        tolerate(result, &[libc::EEXIST])
    }

    /// Lists addresses, of one link or (`None`) of all.
    pub fn addresses(&mut self, index: Option<u32>) -> Result<Vec<Address>> {
        let header = IfAddrHeader {
            family: AF_UNSPEC,
            ..Default::default()
        }
        .encode();
        self.dump(RTM_GETADDR, &|m| m.header(&header), |m| {
            let address = decode_address(m)?;
            Ok(Some(address).filter(|a| index.is_none_or(|i| a.index == i)))
        })
    }
}

pub(crate) fn encode_address(
    m: &mut MessageWriter<'_>,
    index: u32,
    address: IpAddr,
    prefix_len: u8,
    options: AddressOptions,
) {
    let mut flags = 0;
    if options.nodad {
        flags |= IFA_F_NODAD;
    }
    if options.no_prefix_route {
        flags |= IFA_F_NOPREFIXROUTE;
    }
    m.header(
        &IfAddrHeader {
            family: family_of(address),
            prefix_len,
            flags: (flags & 0xff) as u8,
            scope: 0,
            index,
        }
        .encode(),
    );
    // IFA_LOCAL is "my address"; IFA_ADDRESS the peer's on point-to-point links and the same
    // address otherwise. Sending both with the same value is what a plain `ip addr add` does.
    m.attr_ip(IFA_LOCAL, address);
    m.attr_ip(IFA_ADDRESS, address);
    if flags > 0xff {
        m.attr_u32(IFA_FLAGS, flags);
    }
}

fn decode_address(message: &RawMessage<'_>) -> Result<Address> {
    let (header, attrs) = split_header(message.payload, IfAddrHeader::LEN, "address")?;
    let header = IfAddrHeader::decode(header)?;
    let mut local = None;
    let mut peer = None;
    let mut flags = u32::from(header.flags);
    for attribute in attributes(attrs) {
        let attribute = attribute?;
        match attribute.kind {
            IFA_LOCAL => local = Some(ip_value(header.family, &attribute)?),
            IFA_ADDRESS => peer = Some(ip_value(header.family, &attribute)?),
            IFA_FLAGS => flags = u32_value(&attribute)?,
            _ => {}
        }
    }
    let address = local.or(peer).ok_or_else(|| {
        Error::malformed(format!(
            "address on link {} without IFA_ADDRESS",
            header.index
        ))
    })?;
    Ok(Address {
        index: header.index,
        address,
        prefix_len: header.prefix_len,
        flags,
        scope: header.scope,
    })
}

pub(crate) fn check_prefix_len(address: IpAddr, prefix_len: u8) -> Result<()> {
    let max = if address.is_ipv4() { 32 } else { 128 };
    if prefix_len > max {
        return Err(Error::Invalid(format!(
            "prefix length /{prefix_len} for {address}"
        )));
    }
    Ok(())
}
