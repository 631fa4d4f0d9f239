//! A BGP-4 speaker for wharf's routed networks, knowing nothing about Docker.
//!
//! [`wire`]: messages, attributes and capabilities to bytes and back, with RFC 7606 error
//! handling for UPDATE (see there for why the codec is our own). [`fsm`]: a session's RFC
//! 4271 state machine, without I/O; [`peer`] runs one over TCP. [`import`] and [`policy`]
//! decide what a peer's UPDATE puts in the [`rib`], which chooses among paths (best path,
//! ECMP); [`changes`] batches its choices for the embedding program's sink; [`export`] makes
//! the UPDATEs for what this host announces. [`speaker`] ties them together in one task.

pub mod changes;
pub mod export;
pub mod fsm;
pub mod import;
pub mod intern;
pub mod peer;
pub mod policy;
pub mod rib;
pub mod rib_store;
pub mod sockopt;
pub mod speaker;
pub mod wire;
