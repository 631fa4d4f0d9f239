//! wharf: a Docker network and IPAM plugin daemon.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod engine;
pub mod model;
pub mod modes;
pub mod protocol;
pub mod routing;
pub mod store;
