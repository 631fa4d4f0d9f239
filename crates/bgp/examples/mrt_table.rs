//! Writes an MRT table dump (RFC 6396, TABLE_DUMP_V2) of N IPv4 /32s (10.100.0.0 up) and
//! M IPv6 /128s (2001:db8:100:: up), all from one peer, for `gobgp mrt inject global` to
//! preload a GoBGP that then sends them to a receiver under test (bench/bgp-install).
//!
//! Usage: `mrt_table N M FILE`.

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

const TABLE_DUMP_V2: u16 = 13;
const PEER_INDEX_TABLE: u16 = 1;
const RIB_IPV4_UNICAST: u16 = 2;
const RIB_IPV6_UNICAST: u16 = 4;
const PEER_AS: u32 = 65000;
const PEER_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);
const FLUSH_TAIL: u32 = 4096;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: mrt_table N M FILE");
        std::process::exit(2);
    }
    let v4: u32 = args[1].parse().expect("N is a number");
    let v6: u32 = args[2].parse().expect("M is a number");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[3])?);
    record(&mut out, PEER_INDEX_TABLE, &peer_index_table())?;
    let mut sequence = 0u32;
    let base4 = u32::from(Ipv4Addr::new(10, 100, 0, 0));
    for i in 0..v4 {
        let prefix = Ipv4Addr::from(base4 + i).octets();
        let body = rib_entry(sequence, 32, &prefix, &v4_attributes());
        record(&mut out, RIB_IPV4_UNICAST, &body)?;
        sequence += 1;
    }
    let base6 = u128::from("2001:db8:100::".parse::<Ipv6Addr>().expect("address"));
    for i in 0..v6 {
        let prefix = Ipv6Addr::from(base6 + u128::from(i)).octets();
        let body = rib_entry(sequence, 128, &prefix, &v6_attributes());
        record(&mut out, RIB_IPV6_UNICAST, &body)?;
        sequence += 1;
    }
    // `gobgp mrt inject` (3.10) loses its last, partial batch of routes: a tail of routes
    // already listed pushes the real ones out. Repeating a route changes nothing, and it
    // all happens before any receiver connects.
    for i in 0..v4.min(FLUSH_TAIL) {
        let prefix = Ipv4Addr::from(base4 + i).octets();
        let body = rib_entry(sequence, 32, &prefix, &v4_attributes());
        record(&mut out, RIB_IPV4_UNICAST, &body)?;
        sequence += 1;
    }
    for i in 0..if v4 == 0 { v6.min(FLUSH_TAIL) } else { 0 } {
        let prefix = Ipv6Addr::from(base6 + u128::from(i)).octets();
        let body = rib_entry(sequence, 128, &prefix, &v6_attributes());
        record(&mut out, RIB_IPV6_UNICAST, &body)?;
        sequence += 1;
    }
    out.flush()
}

fn record(out: &mut impl Write, subtype: u16, body: &[u8]) -> std::io::Result<()> {
    out.write_all(&0u32.to_be_bytes())?; // timestamp
    out.write_all(&TABLE_DUMP_V2.to_be_bytes())?;
    out.write_all(&subtype.to_be_bytes())?;
    out.write_all(&(body.len() as u32).to_be_bytes())?;
    out.write_all(body)
}

fn peer_index_table() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(PEER_ADDRESS.octets()); // collector BGP ID
    body.extend(0u16.to_be_bytes()); // no view name
    body.extend(1u16.to_be_bytes()); // one peer
    body.push(0b10); // IPv4 address, 4-octet AS
    body.extend(PEER_ADDRESS.octets()); // its BGP ID
    body.extend(PEER_ADDRESS.octets()); // its address
    body.extend(PEER_AS.to_be_bytes());
    body
}

fn rib_entry(sequence: u32, length: u8, prefix: &[u8], attributes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(sequence.to_be_bytes());
    body.push(length);
    body.extend(&prefix[..usize::from(length).div_ceil(8)]);
    body.extend(1u16.to_be_bytes()); // one entry
    body.extend(0u16.to_be_bytes()); // peer 0
    body.extend(0u32.to_be_bytes()); // originated
    body.extend((attributes.len() as u16).to_be_bytes());
    body.extend(attributes);
    body
}

/// ORIGIN IGP and AS_PATH (one AS_SEQUENCE of the peer's AS, 4-octet as MRT wants).
fn common_attributes() -> Vec<u8> {
    let mut a = vec![0x40, 1, 1, 0];
    a.extend([0x40, 2, 6, 2, 1]);
    a.extend(PEER_AS.to_be_bytes());
    a
}

fn v4_attributes() -> Vec<u8> {
    let mut a = common_attributes();
    a.extend([0x40, 3, 4]);
    a.extend(PEER_ADDRESS.octets());
    a
}

/// MP_REACH_NLRI with AFI, SAFI, next hop and no NLRI. RFC 6396 section 4.3.4 abbreviates
/// it to the next hop's length and address, but GoBGP 3.10's reader takes the first bytes
/// for the AFI whatever the file says, so this is the form it reads.
fn v6_attributes() -> Vec<u8> {
    let mut a = common_attributes();
    let next_hop: Ipv6Addr = "2001:db8:ffff::254".parse().expect("address");
    a.extend([0x80, 14, 21, 0, 2, 1, 16]);
    a.extend(next_hop.octets());
    a.push(0); // reserved
    a
}
