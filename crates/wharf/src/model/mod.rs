//! The plain data every layer shares: what wharf remembers (pools, networks, endpoints), the
//! changes that move it, and the events it publishes. No I/O here, and nothing of Docker's.

pub mod change;
pub mod event;
pub mod state;

pub use change::{Change, Misfit};
pub use event::{Advertise, EndpointAddresses, Event, NetworkPrefixes, Routing};
pub use state::{
    short_id, Allocation, Endpoint, ExtraAddress, L4Protocol, Network, Pool, PortMapping,
    Published, State, Subnet, OLDEST_STATE_VERSION, STATE_VERSION,
};
