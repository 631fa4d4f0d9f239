//! wharf: a Docker network and IPAM plugin daemon.

pub mod dataplane;
