//! Interface addresses, as `netlink-packet-route`'s `AddressMessage`.

use std::net::IpAddr;

use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};

use crate::client::Netlink;
use crate::error::{tolerate, Error, Result};
use crate::message::MessageWriter;
use crate::parse::{parse_body, RawMessage};
use crate::route::family_of;
use crate::route_codec::address_family;
use crate::uapi::{NLM_F_CREATE, NLM_F_EXCL, RTM_GETADDR, RTM_NEWADDR};

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
        // An all-zero ifaddrmsg: every family (strict checking refuses other header fields).
        let request = AddressMessage::default();
        self.dump(RTM_GETADDR, &|m| m.emit(&request), |m| {
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
    let mut flags = AddressFlags::empty();
    if options.nodad {
        flags |= AddressFlags::Nodad;
    }
    if options.no_prefix_route {
        flags |= AddressFlags::Noprefixroute;
    }
    let mut message = AddressMessage::default();
    message.header.family = address_family(family_of(address));
    message.header.prefix_len = prefix_len;
    // The header's flags are 8 bits; IFA_FLAGS carries all 32 when any above them is set.
    message.header.flags = AddressHeaderFlags::from_bits_truncate(flags.bits() as u8);
    message.header.index = index;
    // IFA_LOCAL is "my address"; IFA_ADDRESS the peer's on point-to-point links and the same
    // address otherwise. Sending both with the same value is what a plain `ip addr add` does.
    message.attributes.push(AddressAttribute::Local(address));
    message.attributes.push(AddressAttribute::Address(address));
    if flags.bits() > 0xff {
        message.attributes.push(AddressAttribute::Flags(flags));
    }
    m.emit(&message);
}

pub(crate) fn decode_address(message: &RawMessage<'_>) -> Result<Address> {
    let decoded: AddressMessage = parse_body(message.payload, "address")?;
    let header = &decoded.header;
    let mut local = None;
    let mut peer = None;
    let mut flags = u32::from(header.flags.bits());
    for attribute in &decoded.attributes {
        match attribute {
            AddressAttribute::Local(address) => local = Some(*address),
            AddressAttribute::Address(address) => peer = Some(*address),
            AddressAttribute::Flags(all) => flags = all.bits(),
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
        scope: header.scope.into(),
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
