//! Docker's libnetwork remote plugin protocol: the message types, their translation into the
//! engine's calls, and the HTTP server on the plugin's unix socket. Nothing below this layer
//! sees Docker's JSON.
pub mod client;
pub mod docker_api;
pub mod plugin;
mod ports;
pub mod server;
pub mod types;

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod sequences;
