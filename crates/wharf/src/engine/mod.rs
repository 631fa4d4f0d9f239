//! The engine: networks, endpoints, IPAM and reconciliation. It decides; the dataplane does.
pub mod ipam;
pub mod state;
