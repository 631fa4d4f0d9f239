//! The connection: one reader thread per client routes replies to waiting callers.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::framing::{Framer, DEFAULT_MAX_MESSAGE};
use crate::monitor::{decode_table_updates, MonitorRequest, TableUpdates};
use crate::ops::{decode_transact_result, Operation, OperationResult};
use crate::{Endpoint, Error};

/// A database schema as the server sent it (RFC 7047 section 3.2).
#[derive(Clone, Debug, PartialEq)]
pub struct Schema(pub Value);

impl Schema {
    pub fn name(&self) -> Option<&str> {
        self.0.get("name")?.as_str()
    }

    /// The schema's `version` ("8.3.1"), which says which columns exist.
    pub fn version(&self) -> Option<&str> {
        self.0.get("version")?.as_str()
    }

    pub fn tables(&self) -> Vec<&str> {
        match self.0.get("tables") {
            Some(Value::Object(tables)) => tables.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.0
            .get("tables")
            .and_then(|t| t.get(table))
            .and_then(|t| t.get("columns"))
            .and_then(|c| c.get(column))
            .is_some()
    }
}

/// An active monitor: the rows as they were when it started, then every change.
#[derive(Debug)]
pub struct Monitor {
    pub initial: TableUpdates,
    /// Closes when the connection is lost or the monitor is cancelled.
    pub updates: Receiver<TableUpdates>,
}

/// A JSON-RPC message as read from the server.
#[derive(Debug, PartialEq)]
pub(crate) enum Message {
    Request {
        method: String,
        params: Value,
        id: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    Response {
        id: Value,
        result: Value,
        error: Value,
    },
}

impl Message {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Message, Error> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::Protocol(format!("invalid JSON: {e}")))?;
        let Value::Object(mut fields) = value else {
            return Err(Error::Protocol("message is not a JSON object".into()));
        };
        let id = fields.remove("id").unwrap_or(Value::Null);
        match fields.remove("method") {
            Some(Value::String(method)) => {
                let params = fields.remove("params").unwrap_or(Value::Null);
                Ok(if id.is_null() {
                    Message::Notification { method, params }
                } else {
                    Message::Request { method, params, id }
                })
            }
            Some(other) => Err(Error::Protocol(format!("method is not a string: {other}"))),
            None => Ok(Message::Response {
                id,
                result: fields.remove("result").unwrap_or(Value::Null),
                error: fields.remove("error").unwrap_or(Value::Null),
            }),
        }
    }
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }

    fn shutdown(&self) {
        // Fails only if already shut down or reset: either way the goal is met.
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(Some(timeout)),
            Stream::Tcp(s) => s.set_write_timeout(Some(timeout)),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

type Reply = Result<Value, Value>;

#[derive(Default)]
struct State {
    pending: HashMap<u64, Sender<Reply>>,
    /// Keyed by the monitor id's JSON text, since any JSON value can be an id.
    monitors: HashMap<String, Sender<TableUpdates>>,
    /// Why the connection is gone, once it is.
    closed: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    writer: Mutex<Stream>,
}

impl Shared {
    /// A panic elsewhere while holding the lock leaves the maps consistent (every
    /// update is a single insert or remove), so poisoning is ignored.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, message: &Value) -> io::Result<()> {
        let bytes = serde_json::to_vec(message)?;
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.write_all(&bytes)?;
        writer.flush()
    }

    fn disconnected(&self) -> Error {
        Error::Disconnected {
            reason: self
                .state()
                .closed
                .clone()
                .unwrap_or_else(|| "connection closed".into()),
        }
    }

    /// Dropping the senders is what wakes waiting callers and ends monitor receivers.
    fn close(&self, reason: String) {
        let mut state = self.state();
        if state.closed.is_none() {
            state.closed = Some(reason);
        }
        state.pending.clear();
        state.monitors.clear();
    }
}

/// A connection to one ovsdb-server. Methods take `&self` and may be called from
/// several threads; each call blocks until its reply (or the timeout).
pub struct Client {
    endpoint: Endpoint,
    timeout: Duration,
    shared: Arc<Shared>,
    /// Kept to shut the socket down in `Drop`, which ends the reader thread.
    socket: Stream,
    next_id: AtomicU64,
    reader: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects; `timeout` bounds the TCP connect and, afterwards, every request.
    pub fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Client, Error> {
        Client::connect_with_limit(endpoint, timeout, DEFAULT_MAX_MESSAGE)
    }

    /// As [`Client::connect`], with a cap on the size of one message from the server
    /// other than the default 64 MiB; a larger one closes the connection.
    pub fn connect_with_limit(
        endpoint: &Endpoint,
        timeout: Duration,
        max_message: usize,
    ) -> Result<Client, Error> {
        let fail = |source| Error::Connect {
            endpoint: endpoint.to_string(),
            source,
        };
        let stream = match endpoint {
            Endpoint::Unix(path) => Stream::Unix(UnixStream::connect(path).map_err(fail)?),
            Endpoint::Tcp(addr) => {
                let stream = TcpStream::connect_timeout(addr, timeout).map_err(fail)?;
                // Requests are small and latency matters more than packet count.
                stream.set_nodelay(true).map_err(fail)?;
                Stream::Tcp(stream)
            }
        };
        Client::start(endpoint.clone(), stream, timeout, max_message).map_err(fail)
    }

    fn start(
        endpoint: Endpoint,
        stream: Stream,
        timeout: Duration,
        max_message: usize,
    ) -> io::Result<Client> {
        // A server that stops reading must not block a caller (or the reader thread
        // answering an echo) forever.
        stream.set_write_timeout(timeout)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            writer: Mutex::new(stream.try_clone()?),
        });
        let reader_stream = stream.try_clone()?;
        let reader_shared = Arc::clone(&shared);
        let reader = std::thread::Builder::new()
            .name("ovsdb-reader".into())
            .spawn(move || read_loop(reader_stream, &reader_shared, max_message))?;
        Ok(Client {
            endpoint,
            timeout,
            shared,
            socket: stream,
            next_id: AtomicU64::new(1),
            reader: Some(reader),
        })
    }

    /// For tests: a client over an already connected socket.
    #[cfg(test)]
    pub(crate) fn over(stream: UnixStream, timeout: Duration, max_message: usize) -> Client {
        let endpoint = Endpoint::Unix("socketpair".into());
        Client::start(endpoint, Stream::Unix(stream), timeout, max_message).unwrap()
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Why the connection is gone, or `None` while it is up (as far as the reader
    /// thread knows).
    pub fn disconnect_reason(&self) -> Option<String> {
        self.shared.state().closed.clone()
    }

    /// Sends one request and waits for its reply's `result`.
    pub fn request(&self, method: &str, params: Value) -> Result<Value, Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        {
            let mut state = self.shared.state();
            if let Some(reason) = &state.closed {
                return Err(Error::Disconnected {
                    reason: reason.clone(),
                });
            }
            state.pending.insert(id, tx);
        }
        let message = json!({"method": method, "params": params, "id": id});
        if let Err(e) = self.shared.send(&message) {
            self.shared.state().pending.remove(&id);
            // The reader thread will see the same failure; stop it now in case it
            // does not (a write timeout leaves the socket readable).
            self.socket.shutdown();
            self.shared.close(format!("write failed: {e}"));
            return Err(self.shared.disconnected());
        }
        match rx.recv_timeout(self.timeout) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(error)) => Err(Error::Rpc {
                method: method.to_string(),
                error: rpc_error_text(&error),
            }),
            Err(RecvTimeoutError::Timeout) => {
                self.shared.state().pending.remove(&id);
                Err(Error::Timeout {
                    method: method.to_string(),
                    after: self.timeout,
                })
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.shared.disconnected()),
        }
    }

    pub fn list_dbs(&self) -> Result<Vec<String>, Error> {
        let result = self.request("list_dbs", json!([]))?;
        let names = match &result {
            Value::Array(names) => names
                .iter()
                .map(|n| n.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        names.ok_or_else(|| Error::Protocol(format!("list_dbs result: {result}")))
    }

    pub fn get_schema(&self, db: &str) -> Result<Schema, Error> {
        self.request("get_schema", json!([db])).map(Schema)
    }

    /// Asks the server to echo; checks the connection is alive end to end.
    pub fn echo(&self) -> Result<(), Error> {
        let params = json!(["wharf"]);
        let result = self.request("echo", params.clone())?;
        if result == params {
            Ok(())
        } else {
            Err(Error::Protocol(format!("echo returned {result}")))
        }
    }

    /// Runs `ops` as one transaction: all of them take effect or none. The results
    /// are in the order of `ops`.
    pub fn transact(&self, db: &str, ops: &[Operation]) -> Result<Vec<OperationResult>, Error> {
        let mut params = vec![json!(db)];
        params.extend(ops.iter().map(Operation::to_json));
        let result = self.request("transact", Value::Array(params))?;
        decode_transact_result(ops, &result)
    }

    /// Starts a monitor. `id` is any JSON value not already in use on this connection.
    pub fn monitor(
        &self,
        db: &str,
        id: impl Into<Value>,
        requests: &BTreeMap<String, MonitorRequest>,
    ) -> Result<Monitor, Error> {
        let id: Value = id.into();
        let key = id.to_string();
        let (tx, rx) = mpsc::channel();
        {
            let mut state = self.shared.state();
            if state.monitors.contains_key(&key) {
                return Err(Error::Rpc {
                    method: "monitor".into(),
                    error: format!("monitor id {key} already in use on this connection"),
                });
            }
            // Registered before the request so no update can find it missing.
            state.monitors.insert(key.clone(), tx);
        }
        let requests: serde_json::Map<String, Value> = requests
            .iter()
            .map(|(table, request)| (table.clone(), request.to_json()))
            .collect();
        let initial = self
            .request("monitor", json!([db, id, requests]))
            .and_then(|result| decode_table_updates(&result));
        match initial {
            Ok(initial) => Ok(Monitor {
                initial,
                updates: rx,
            }),
            Err(e) => {
                self.shared.state().monitors.remove(&key);
                Err(e)
            }
        }
    }

    /// Stops a monitor; its receiver closes.
    pub fn monitor_cancel(&self, id: impl Into<Value>) -> Result<(), Error> {
        let id: Value = id.into();
        let result = self.request("monitor_cancel", json!([id]));
        self.shared.state().monitors.remove(&id.to_string());
        result.map(|_| ())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.socket.shutdown();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn rpc_error_text(error: &Value) -> String {
    match (error.get("error"), error.get("details")) {
        (Some(Value::String(e)), Some(Value::String(d))) => format!("{e} ({d})"),
        (Some(Value::String(e)), _) => e.clone(),
        _ => match error {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

fn read_loop(mut stream: Stream, shared: &Shared, max_message: usize) {
    let reason = read_messages(&mut stream, shared, max_message);
    // The server may still be there (e.g. after a protocol error): hang up on it so
    // that later writes fail too.
    stream.shutdown();
    shared.close(reason);
}

/// Returns why reading stopped.
fn read_messages(stream: &mut Stream, shared: &Shared, max_message: usize) -> String {
    let mut framer = Framer::new(max_message);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return "ovsdb-server closed the connection".into(),
            Ok(n) => framer.push(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return format!("read failed: {e}"),
        }
        loop {
            match framer.next_message() {
                Ok(Some(bytes)) => {
                    if let Err(reason) = handle(&bytes, shared) {
                        return reason;
                    }
                }
                Ok(None) => break,
                Err(e) => return format!("bad message from ovsdb-server: {e}"),
            }
        }
    }
}

fn handle(bytes: &[u8], shared: &Shared) -> Result<(), String> {
    let message = Message::decode(bytes).map_err(|e| e.to_string())?;
    match message {
        Message::Response { id, result, error } => {
            // Unknown ids are replies to requests that timed out: dropped.
            if let Some(tx) = id
                .as_u64()
                .and_then(|id| shared.state().pending.remove(&id))
            {
                let _ = tx.send(if error.is_null() {
                    Ok(result)
                } else {
                    Err(error)
                });
            }
        }
        Message::Request { method, params, id } => {
            // ovsdb-server sends "echo" as an inactivity probe and drops clients
            // that do not answer; nothing else is expected from it.
            let reply = if method == "echo" {
                json!({"id": id, "result": params, "error": null})
            } else {
                json!({"id": id, "result": null, "error": format!("unknown method {method}")})
            };
            shared
                .send(&reply)
                .map_err(|e| format!("write failed: {e}"))?;
        }
        Message::Notification { method, params } if method == "update" => {
            let (id, updates) = match &params {
                Value::Array(p) => match p.as_slice() {
                    [id, updates] => (id, updates),
                    _ => return Err(format!("bad update notification: {params}")),
                },
                _ => return Err(format!("bad update notification: {params}")),
            };
            // A dropped update would leave the caller's view wrong for good, so an
            // undecodable one ends the connection instead.
            let updates = decode_table_updates(updates).map_err(|e| e.to_string())?;
            let mut state = shared.state();
            let key = id.to_string();
            if let Some(tx) = state.monitors.get(&key) {
                if tx.send(updates).is_err() {
                    // The caller dropped the receiver: stop routing to it.
                    state.monitors.remove(&key);
                }
            }
        }
        // "locked", "stolen", "update2"...: for features this client never asks for.
        Message::Notification { .. } => {}
    }
    Ok(())
}
