//! A BGP-4 speaker for wharf's routed networks, knowing nothing about Docker.
//!
//! So far only its wire codec, [`wire`]: messages, attributes and capabilities to bytes
//! and back, with RFC 7606 error handling for UPDATE. The session FSM, RIB and policy
//! will build on it. See [`wire`] for why the codec is our own.

pub mod export;
pub mod fsm;
pub mod import;
pub mod peer;
pub mod policy;
pub mod rib;
pub mod sockopt;
pub mod speaker;
pub mod wire;
