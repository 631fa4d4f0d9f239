//! The only unsafe code in wharf: the netlink socket's system calls and the two namespace
//! calls (`unshare`, `setns`). Everything here is a thin, checked wrapper returning
//! `io::Result`; no other module calls `libc` functions.
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A bound `NETLINK_ROUTE` socket, closed on drop.
#[derive(Debug)]
pub(crate) struct RouteSocket {
    fd: OwnedFd,
}

/// Socket receive buffer we ask for: large enough that the errors of a whole batch of
/// un-ACKed requests (one per failed message), or a burst of notifications, queue without
/// being dropped.
const RECEIVE_BUFFER_BYTES: libc::c_int = 4 << 20;

impl RouteSocket {
    /// Opens a socket in the calling thread's network namespace, binds it (the kernel picks
    /// the port id) and turns on extended ACKs (error text) and capped ACKs (errors do not
    /// echo the whole request back).
    pub(crate) fn open() -> io::Result<RouteSocket> {
        let socket = RouteSocket::bound()?;
        socket.set_int_option(libc::SOL_NETLINK, libc::NETLINK_EXT_ACK, 1)?;
        socket.set_int_option(libc::SOL_NETLINK, libc::NETLINK_CAP_ACK, 1)?;
        // Strict checking makes the kernel apply a dump request's filters (route table and
        // protocol) instead of ignoring them. Best effort: kernels before 4.20 lack it, and
        // callers filter the replies again.
        let _ = socket.set_int_option(libc::SOL_NETLINK, libc::NETLINK_GET_STRICT_CHK, 1);
        socket.grow_receive_buffer();
        Ok(socket)
    }

    /// Opens a socket in the calling thread's network namespace that receives the kernel's
    /// notifications to the given RTNLGRP_* multicast groups.
    pub(crate) fn open_subscriber(groups: &[u32]) -> io::Result<RouteSocket> {
        let socket = RouteSocket::bound()?;
        for &group in groups {
            // NETLINK_ADD_MEMBERSHIP takes the group number itself (not a bit mask), so
            // groups above 32 (RTNLGRP_NEXTHOP is 32) work too.
            let group = libc::c_int::try_from(group)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "group number"))?;
            socket.set_int_option(libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, group)?;
        }
        socket.grow_receive_buffer();
        Ok(socket)
    }

    /// Asks for a large receive buffer. SO_RCVBUFFORCE (needs CAP_NET_ADMIN) may exceed the
    /// system's rmem_max; SO_RCVBUF is clamped to it. Best effort either way.
    fn grow_receive_buffer(&self) {
        if self
            .set_int_option(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
            .is_err()
        {
            let _ = self.set_int_option(libc::SOL_SOCKET, libc::SO_RCVBUF, RECEIVE_BUFFER_BYTES);
        }
    }

    /// Waits until a datagram can be received or `timeout` passes; returns whether one can.
    pub(crate) fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        loop {
            // SAFETY: `poll` is a valid, live pollfd and the count passed is 1.
            let ready = unsafe { libc::poll(&mut poll, 1, millis) };
            if ready < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            return Ok(ready > 0);
        }
    }

    /// A socket bound in the calling thread's network namespace (the kernel picks the port).
    fn bound() -> io::Result<RouteSocket> {
        // SAFETY: plain system call with constant arguments; the result is checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a freshly created, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let socket = RouteSocket { fd };

        // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value.
        let mut address: libc::sockaddr_nl = unsafe { mem::zeroed() };
        address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `address` is a valid sockaddr_nl and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                socket.fd.as_raw_fd(),
                (&address as *const libc::sockaddr_nl).cast::<libc::sockaddr>(),
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(socket)
    }

    fn set_int_option(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        value: libc::c_int,
    ) -> io::Result<()> {
        // SAFETY: `value` lives across the call and the length passed is exactly its size.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&value as *const libc::c_int).cast::<libc::c_void>(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends one datagram (one or more netlink messages) to the kernel.
    pub(crate) fn send(&self, datagram: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: the pointer and length describe the live `datagram` slice. An unconnected
            // netlink socket sends to port 0, the kernel.
            let sent = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    datagram.as_ptr().cast::<libc::c_void>(),
                    datagram.len(),
                    0,
                )
            };
            if sent < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            if sent as usize != datagram.len() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "netlink datagram sent only in part",
                ));
            }
            return Ok(());
        }
    }

    /// Receives one datagram into `buffer`. With `wait == false` it returns `Ok(None)` when
    /// nothing is queued. A datagram larger than `buffer` is an error (its tail is lost), not
    /// a silently truncated read.
    pub(crate) fn receive(&self, buffer: &mut [u8], wait: bool) -> io::Result<Option<usize>> {
        let flags = libc::MSG_TRUNC | if wait { 0 } else { libc::MSG_DONTWAIT };
        loop {
            // SAFETY: the pointer and length describe the live, writable `buffer` slice; the
            // kernel writes at most `buffer.len()` bytes (MSG_TRUNC only changes the result).
            let received = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr().cast::<libc::c_void>(),
                    buffer.len(),
                    flags,
                )
            };
            if received < 0 {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock if !wait => return Ok(None),
                    _ => return Err(error),
                }
            }
            let received = received as usize;
            if received > buffer.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "netlink datagram of {received} bytes did not fit the {}-byte buffer",
                        buffer.len()
                    ),
                ));
            }
            return Ok(Some(received));
        }
    }
}

/// Moves the calling thread (only it) into a new, empty network namespace.
pub(crate) fn unshare_network_namespace() -> io::Result<()> {
    // SAFETY: plain system call; it only changes the calling thread's namespace membership.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Moves the calling thread (only it) into the network namespace `namespace` refers to.
pub(crate) fn enter_network_namespace(namespace: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: the descriptor is borrowed, so it stays open for the duration of the call.
    if unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct ethtool_value`: an ethtool command and its one value.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// ETHTOOL_STXCSUM (linux/ethtool.h): set transmit checksum offload.
const ETHTOOL_STXCSUM: u32 = 0x17;

/// Turns an interface's transmit checksum offload on or off (what `ethtool -K NAME tx on|off`
/// does), with the SIOCETHTOOL ioctl on a datagram socket of the calling thread's network
/// namespace. `name` must be a valid interface name (checked by the caller).
pub(crate) fn set_tx_checksum(name: &str, enabled: bool) -> io::Result<()> {
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: u32::from(enabled),
    };
    // SAFETY: an all-zero ifreq is valid; the name is copied in bounded below.
    let mut request: libc::ifreq = unsafe { mem::zeroed() };
    if name.len() >= request.ifr_name.len() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    request.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: plain socket(2); the result is checked and owned.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: `request` names the interface and points at `value`, both alive for the call;
    // SIOCETHTOOL reads `value` and writes nothing back for a set command.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCETHTOOL, &mut request) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
