//! A client for wharf's plugin socket that speaks the way dockerd does: `POST /Interface.Method`,
//! no Content-Type, the plugin API's Accept header, an empty body for calls without arguments,
//! and (by default) a new connection for every call, as dockerd's plugin client makes.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Connect, send one request, read its answer, close: what dockerd does.
    PerCall,
    /// One HTTP/1.1 connection kept open for every call.
    KeepAlive,
}

impl Connection {
    pub fn describe(self) -> &'static str {
        match self {
            Connection::PerCall => "a new connection per call, as dockerd",
            Connection::KeepAlive => "one keep-alive connection",
        }
    }
}

pub struct PluginClient {
    path: PathBuf,
    connection: Connection,
    open: Option<Stream>,
}

struct Stream {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl PluginClient {
    pub fn new(path: &Path, connection: Connection) -> Self {
        PluginClient {
            path: path.to_owned(),
            connection,
            open: None,
        }
    }

    /// POST /METHOD with BODY (`None`: an empty body); the answer on HTTP 200, otherwise an
    /// error naming the method, the status and wharf's message.
    pub fn call(&mut self, method: &str, body: Option<&Value>) -> Result<Value, String> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let (status, answer) = self
            .exchange(method, &body)
            .map_err(|e| format!("{method}: {e}"))?;
        let value: Value = serde_json::from_slice(&answer).map_err(|e| {
            format!(
                "{method}: HTTP {status}, the answer is not JSON ({e}): {}",
                String::from_utf8_lossy(&answer)
            )
        })?;
        if status != 200 {
            return Err(format!("{method}: HTTP {status}: {value}"));
        }
        Ok(value)
    }

    fn exchange(&mut self, method: &str, body: &str) -> io::Result<(u16, Vec<u8>)> {
        let close = self.connection == Connection::PerCall;
        let request = format!(
            "POST /{method} HTTP/1.1\r\nHost: plugin\r\n\
             Accept: application/vnd.docker.plugins.v1.2+json\r\n{}Content-Length: {}\r\n\r\n{body}",
            if close { "Connection: close\r\n" } else { "" },
            body.len()
        );
        let mut stream = match self.open.take() {
            Some(stream) => stream,
            None => self.connect()?,
        };
        stream.writer.write_all(request.as_bytes())?;
        let answer = read_response(&mut stream.reader)?;
        if !close {
            self.open = Some(stream);
        }
        Ok(answer)
    }

    fn connect(&self) -> io::Result<Stream> {
        let writer = UnixStream::connect(&self.path).map_err(|e| {
            io::Error::new(e.kind(), format!("connect {}: {e}", self.path.display()))
        })?;
        writer.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Stream {
            reader: BufReader::new(writer.try_clone()?),
            writer,
        })
    }
}

/// Reads one HTTP/1.1 response: the status and the body (Content-Length, chunked, or up to
/// the end of the connection).
fn read_response(reader: &mut impl BufRead) -> io::Result<(u16, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::other(
            "the connection closed before an answer (did wharf exit?)",
        ));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::other("connection closed inside the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let digits = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(digits, 16)
                .map_err(|e| io::Error::other(format!("bad chunk size {line:?}: {e}")))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok((status, body))
}

/// A string field of an answer, or an error showing the answer.
pub fn field(answer: &Value, name: &str) -> Result<String, String> {
    answer[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the answer has no string {name}: {answer}"))
}

/// `10.46.0.7/16` -> `10.46.0.7`.
pub fn bare(address: &str) -> &str {
    address.split('/').next().unwrap_or(address)
}
