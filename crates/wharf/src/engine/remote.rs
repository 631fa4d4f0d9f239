//! Addresses containers use on other hosts, as routing peers announce them (a learned /32
//! or /128). One network's subnet can span hosts, and wharf's IPAM is per host: an address
//! here must never be one a container elsewhere already has. The routing side keeps this
//! set; the IPAM consults it; `wharf status` reports local addresses found in it.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Kept per family: a 100,000-route table costs a few hundred kB, not megabytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RemoteHosts {
    v4: HashSet<Ipv4Addr>,
    v6: HashSet<Ipv6Addr>,
}

impl RemoteHosts {
    pub fn contains(&self, address: IpAddr) -> bool {
        match address {
            IpAddr::V4(a) => self.v4.contains(&a),
            IpAddr::V6(a) => self.v6.contains(&a),
        }
    }

    pub fn insert(&mut self, address: IpAddr) {
        match address {
            IpAddr::V4(a) => self.v4.insert(a),
            IpAddr::V6(a) => self.v6.insert(a),
        };
    }

    pub fn remove(&mut self, address: IpAddr) {
        match address {
            IpAddr::V4(a) => self.v4.remove(&a),
            IpAddr::V6(a) => self.v6.remove(&a),
        };
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
