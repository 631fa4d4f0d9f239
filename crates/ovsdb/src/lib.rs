//! A small, blocking client for OVSDB, the database protocol of Open vSwitch
//! (RFC 7047: JSON-RPC over a unix or TCP socket).
//!
//! wharf drives Open vSwitch through ovsdb-server, as `ovs-vsctl` does, but from a
//! long-running daemon that needs structured results, precise errors and change
//! notifications rather than parsed command output. No maintained Rust OVSDB client
//! exists, and the protocol is small, so it is written here.
//!
//! # What it covers
//!
//! - `list_dbs`, `get_schema`, `echo`, `transact`, `monitor`, `monitor_cancel`.
//! - Every transaction operation except `assert` ([`Operation`]), with per-operation
//!   and commit errors reported as [`Error::Operation`] and [`Error::Commit`].
//! - The whole data model ([`Atom`], [`Datum`], [`Row`]), including named UUIDs.
//! - The server's `echo` inactivity probes, answered by the client itself.
//!
//! Not covered: locks (`lock`, `steal`, `unlock`, `assert`), conditional and
//! incremental monitors (`monitor_cond`, `monitor_cond_since`, `update2`/`update3`),
//! SSL endpoints, schema validation on the client side (the server checks), and
//! clustered-database leader discovery.
//!
//! # Threads and failures
//!
//! Each [`Client`] owns one socket and one reader thread. Calls block the calling
//! thread until their reply arrives or the client's timeout passes. When the
//! connection drops, every pending and later call fails promptly with
//! [`Error::Disconnected`] and monitor receivers close. The client never
//! reconnects: after a disconnect the caller connects a new [`Client`] and, since
//! changes may have been missed, starts its monitors again from their initial rows.

mod client;
mod datum;
mod endpoint;
mod error;
mod framing;
mod monitor;
mod ops;
#[cfg(test)]
mod tests;

pub use client::{Client, Monitor, Schema};
pub use datum::{Atom, Datum, Row};
pub use endpoint::Endpoint;
pub use error::Error;
pub use framing::DEFAULT_MAX_MESSAGE;
pub use monitor::{MonitorRequest, RowUpdate, Select, TableUpdates};
pub use ops::{Condition, Function, Mutation, Mutator, Operation, OperationResult, Until};
