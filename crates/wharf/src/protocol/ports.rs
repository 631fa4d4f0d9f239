//! Docker's port map (`com.docker.network.portmap`, what `docker run -p` sends in
//! ProgramExternalConnectivity) read into wharf's mappings.

use std::net::IpAddr;

use serde_json::Value;

use super::types::PortBinding;
use crate::engine::error::invalid;
use crate::engine::Result;
use crate::model::{L4Protocol, PortMapping};

/// The option carrying `-p`'s port map.
pub const PORT_MAP: &str = "com.docker.network.portmap";

/// Docker's port map as wharf's mappings. A host port range (`-p 8080-8090:80`) takes its
/// first port: the range lets the runtime pick, and the first is as good as any.
pub fn port_mappings(map: &Value) -> Result<Vec<PortMapping>> {
    let bindings: Vec<PortBinding> = serde_json::from_value(map.clone()).map_err(|e| {
        invalid(format!(
            "option {PORT_MAP} is not a list of port bindings: {e}"
        ))
    })?;
    bindings
        .iter()
        .map(|binding| {
            let protocol = L4Protocol::from_number(binding.proto).ok_or_else(|| {
                invalid(format!(
                    "option {PORT_MAP}: protocol number {} is not TCP (6), UDP (17) or SCTP (132)",
                    binding.proto
                ))
            })?;
            let port = |what: &str, value: u64| {
                u16::try_from(value).map_err(|_| {
                    invalid(format!(
                        "option {PORT_MAP}: {what} {value} is not a port number"
                    ))
                })
            };
            let host_ip = match binding.host_ip.trim() {
                "" => None,
                text => Some(text.parse::<IpAddr>().map_err(|_| {
                    invalid(format!(
                        "option {PORT_MAP}: host address {text:?} is not an IP address"
                    ))
                })?),
            };
            Ok(PortMapping {
                protocol,
                host_ip,
                host_port: port("host port", binding.host_port)?,
                container_port: port("container port", binding.port)?,
            })
        })
        .collect()
}
