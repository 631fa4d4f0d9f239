//! Docker's libnetwork remote plugin protocol: the message types and the HTTP server on the
//! plugin's unix socket.
pub mod client;
pub mod server;
pub mod types;
