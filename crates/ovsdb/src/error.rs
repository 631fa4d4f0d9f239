use std::io;
use std::time::Duration;

/// Everything that can go wrong talking to ovsdb-server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint text is not of a form this client can connect to.
    #[error("invalid OVSDB endpoint {input:?}: {reason} (expected unix:PATH, tcp:IP:PORT or tcp:[IPv6]:PORT)")]
    Endpoint { input: String, reason: &'static str },

    /// The socket could not be opened.
    #[error("cannot reach ovsdb-server at {endpoint}: {source}")]
    Connect { endpoint: String, source: io::Error },

    /// The connection is gone (server exited, socket closed, or the client closed it
    /// after a protocol error). Pending and later requests all fail with this; the
    /// caller reconnects with a new [`Client`](crate::Client) if it wants to go on.
    #[error("connection to ovsdb-server lost: {reason}")]
    Disconnected { reason: String },

    /// No reply came within the client's request timeout. The connection stays usable:
    /// a late reply is dropped.
    #[error("ovsdb-server did not answer {method} within {after:?}")]
    Timeout { method: String, after: Duration },

    /// The server answered a request with a JSON-RPC error (e.g. an unknown database).
    #[error("ovsdb-server refused {method}: {error}")]
    Rpc { method: String, error: String },

    /// Operation `index` (0-based, in the order given to `transact`) failed, so the
    /// transaction was not committed and nothing changed.
    #[error("OVSDB transaction failed at operation {index} ({op}): {error}{}", details_suffix(.details))]
    Operation {
        index: usize,
        op: &'static str,
        error: String,
        details: Option<String>,
    },

    /// Every operation succeeded but the commit did not (e.g. a constraint or
    /// referential integrity violation found at commit time); nothing changed.
    #[error("OVSDB transaction failed at commit: {error}{}", details_suffix(.details))]
    Commit {
        error: String,
        details: Option<String>,
    },

    /// The server sent something that is valid JSON but not what RFC 7047 says it sends.
    #[error("unexpected reply from ovsdb-server: {0}")]
    Protocol(String),
}

fn details_suffix(details: &Option<String>) -> String {
    match details {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}
