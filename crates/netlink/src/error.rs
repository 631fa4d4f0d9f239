//! One error type for the whole client.

use std::io;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused a request. `message` is strerror's text, followed by the kernel's
    /// extended-ACK explanation when it sent one ("Nexthop device is not up").
    #[error("{message}")]
    Kernel { errno: i32, message: String },
    /// The socket itself failed (or a namespace could not be entered).
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    /// The kernel's reply could not be decoded.
    #[error("malformed netlink reply: {0}")]
    Malformed(String),
    /// The request was refused before sending (an interface name too long, say).
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl Error {
    /// The kernel's errno, if this is a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// Whether the kernel refused because the object already exists (EEXIST): a create
    /// (`create_route`, `create_veth`, `create_link`, a nexthop id in use as another kind)
    /// that found its object there.
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// Whether the kernel refused because the object is not there. The kernel says so in
    /// three ways: ESRCH for a route, ENODEV for a link (or a device a request names),
    /// ENOENT for an address, neighbour or nexthop object (and a route in a table that does
    /// not exist).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.errno(),
            Some(libc::ENOENT) | Some(libc::ESRCH) | Some(libc::ENODEV)
        )
    }

    /// Builds a kernel error from a (positive) errno and the optional extended-ACK text.
    pub(crate) fn kernel(errno: i32, extack: Option<&str>) -> Error {
        let message = kernel_message(errno, extack);
        Error::Kernel { errno, message }
    }

    pub(crate) fn malformed(what: impl Into<String>) -> Error {
        Error::Malformed(what.into())
    }
}

/// strerror's text for `errno`, then the kernel's extended-ACK text if it sent one.
pub(crate) fn kernel_message(errno: i32, extack: Option<&str>) -> String {
    // io::Error's text is strerror plus " (os error N)"; the errno is kept in the error value.
    let text = io::Error::from_raw_os_error(errno).to_string();
    let reason = match text.rsplit_once(" (os error ") {
        Some((reason, _)) => reason.to_owned(),
        None => text,
    };
    match extack {
        Some(text) if !text.is_empty() => format!("{reason}: {text}"),
        _ => reason,
    }
}

/// Turns the given kernel errnos into success: "already there" on adds, "already gone" on
/// deletes.
pub(crate) fn tolerate(result: Result<()>, errnos: &[i32]) -> Result<()> {
    match result {
        Err(error) if error.errno().is_some_and(|e| errnos.contains(&e)) => Ok(()),
        other => other,
    }
}
