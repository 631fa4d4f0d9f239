//! The socket options BGP sessions need that the standard library does not set: TCP MD5
//! signatures (RFC 2385) and GTSM's minimum TTL (RFC 5082). The one module of the crate with
//! `unsafe`: `setsockopt` and `getsockopt` calls, each with a plain value laid out as the
//! kernel expects.
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The kernel's longest TCP MD5 key (TCP_MD5SIG_MAXKEYLEN).
pub const MAX_KEY_LEN: usize = 80;

/// `struct tcp_md5sig` of linux/tcp.h.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefix_len: u8,
    key_len: u16,
    ifindex: libc::c_int,
    key: [u8; MAX_KEY_LEN],
}

fn sockaddr(address: IpAddr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match address {
        IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe {
                std::ptr::write(
                    (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                    sin,
                )
            };
        }
        IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe {
                std::ptr::write(
                    (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                    sin6,
                )
            };
        }
    }
    storage
}

fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(size_of::<T>())
        .map_err(|_| io::Error::other("socket option too large"))?;
    // SAFETY: `value` points to a live T of `len` bytes for the duration of the call, and
    // `fd` is an open socket borrowed for it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn getsockopt_int(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = libc::socklen_t::try_from(size_of::<libc::c_int>())
        .map_err(|_| io::Error::other("socket option too large"))?;
    // SAFETY: `value` and `len` are live locals the kernel writes at most `len` bytes to, and
    // `fd` is an open socket borrowed for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Signs (and requires signatures on) TCP segments with `peer` using `key` (RFC 2385). On a
/// listening socket it applies to connections from `peer`; an empty key removes it.
pub fn set_md5_key(fd: BorrowedFd<'_>, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a TCP MD5 password is at most {MAX_KEY_LEN} bytes"),
        ));
    }
    let mut sig = TcpMd5Sig {
        addr: sockaddr(peer),
        flags: 0,
        prefix_len: 0,
        key_len: key.len() as u16,
        ifindex: 0,
        key: [0; MAX_KEY_LEN],
    };
    sig.key[..key.len()].copy_from_slice(key);
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// GTSM (RFC 5082): drop segments that arrive with a TTL (hop limit) below `min`; 254 for a
/// directly connected peer that sends with 255. `ipv6` chooses the family of the packets it
/// applies to, not of the socket: an IPv6 socket's IPv4(-mapped) connections are checked
/// against the IPv4 option only, so a dual-stack socket needs both.
pub fn set_min_ttl(fd: BorrowedFd<'_>, ipv6: bool, min: u8) -> io::Result<()> {
    let value = libc::c_int::from(min);
    if ipv6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &value)
    } else {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &value)
    }
}

/// The minimum TTL (hop limit) the socket accepts; 0 when none is set.
pub fn min_ttl(fd: BorrowedFd<'_>, ipv6: bool) -> io::Result<i32> {
    if ipv6 {
        getsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT)
    } else {
        getsockopt_int(fd, libc::IPPROTO_IP, libc::IP_MINTTL)
    }
}

/// The TTL (hop limit) the socket sends with.
pub fn ttl(fd: BorrowedFd<'_>, ipv6: bool) -> io::Result<i32> {
    if ipv6 {
        getsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS)
    } else {
        getsockopt_int(fd, libc::IPPROTO_IP, libc::IP_TTL)
    }
}

/// The TTL (hop limit) of segments sent on the socket; GTSM sends with 255. Like
/// [`set_min_ttl`], `ipv6` is the family of the packets.
pub fn set_ttl(fd: BorrowedFd<'_>, ipv6: bool, ttl: u8) -> io::Result<()> {
    let value = libc::c_int::from(ttl);
    if ipv6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &value)
    } else {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &value)
    }
}
