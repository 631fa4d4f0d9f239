//! A minimal blocking client for the plugin socket: one POST per connection. Used by
//! `wharf status` and by tests; Docker itself is the real client.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach wharf at {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("talking to wharf: {0}")]
    Io(#[from] std::io::Error),
    #[error("wharf's answer is not HTTP: {0:?}")]
    BadAnswer(String),
}

/// Sends `POST path` with `body` and returns the status code and the body.
pub fn post(socket: &Path, path: &str, body: &str) -> Result<(u16, String), ClientError> {
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: socket.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: plugin\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| ClientError::BadAnswer(answer.clone()))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| ClientError::BadAnswer(head.into()))?;
    Ok((code, body.to_owned()))
}
