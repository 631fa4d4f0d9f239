//! The engine's errors. Each message names the object and, where there is one, what to do;
//! the protocol layer hands it to Docker verbatim, which shows it to the user.

use super::ipam::IpamError;
use crate::dataplane::DataplaneError;
use crate::model::{short_id, Misfit};
use crate::modes::ModeError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Ipam(#[from] IpamError),
    /// Bad input: an option, an ID, an address.
    #[error("{0}")]
    Invalid(String),
    #[error("network {} is not known to wharf", short_id(.0))]
    UnknownNetwork(String),
    #[error("endpoint {} is not known to wharf on network {}", short_id(.endpoint), short_id(.network))]
    UnknownEndpoint { network: String, endpoint: String },
    #[error("{0} already exists")]
    Exists(String),
    /// Another request is working on the same endpoint right now.
    #[error("{0} is being changed by another request; try again")]
    Busy(String),
    #[error(transparent)]
    Dataplane(#[from] DataplaneError),
    #[error("saving wharf's state failed, nothing was changed: {0}")]
    Store(#[from] StoreError),
    /// The saved state could not be read at start (not a save that failed).
    #[error("wharf's saved state cannot be loaded, and nothing on the host was touched: {0}")]
    Load(StoreError),
    /// A change that does not fit the state: a bug, reported rather than applied.
    #[error("internal error, nothing was changed: {0}")]
    Misfit(#[from] Misfit),
}

impl From<ModeError> for EngineError {
    fn from(error: ModeError) -> Self {
        match error {
            ModeError::Invalid(message) => EngineError::Invalid(message),
            ModeError::Host(error) => EngineError::Dataplane(error),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

pub fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::Invalid(message.into())
}
