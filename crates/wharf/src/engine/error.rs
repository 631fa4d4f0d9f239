//! The engine's errors. Each message names the object and, where there is one, what to do;
//! the protocol layer hands it to Docker verbatim, which shows it to the user.

use super::ipam::IpamError;
use super::state::short_id;
use crate::dataplane::DataplaneError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Ipam(#[from] IpamError),
    /// Bad input from Docker or the user: an option, an ID, an address.
    #[error("{0}")]
    Invalid(String),
    #[error("network {} is not known to wharf", short_id(.0))]
    UnknownNetwork(String),
    #[error("endpoint {} is not known to wharf on network {}", short_id(.endpoint), short_id(.network))]
    UnknownEndpoint { network: String, endpoint: String },
    #[error("{0} already exists")]
    Exists(String),
    #[error(transparent)]
    Dataplane(#[from] DataplaneError),
    #[error("saving wharf's state failed, nothing was changed: {0}")]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, EngineError>;

pub fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::Invalid(message.into())
}
