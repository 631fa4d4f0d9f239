//! The IpamDriver calls.

use std::collections::BTreeMap;

use super::ipam::{self, PoolRequest};
use super::state::Allocation;
use super::{Engine, Result};
use crate::protocol::types::{
    ReleaseAddressRequest, ReleasePoolRequest, RequestAddressRequest, RequestAddressResponse,
    RequestPoolRequest, RequestPoolResponse, GATEWAY_ADDRESS_TYPE, REQUEST_ADDRESS_TYPE,
};

/// The address space wharf reports as its local default, and uses when Docker names none.
pub const LOCAL_ADDRESS_SPACE: &str = "local";
pub const GLOBAL_ADDRESS_SPACE: &str = "global";

impl Engine {
    pub fn request_pool(&self, req: &RequestPoolRequest) -> Result<RequestPoolResponse> {
        let parse_optional = |what, text: &str| -> Result<_> {
            Ok(match text.trim() {
                "" => None,
                text => Some(ipam::parse_prefix(what, text)?),
            })
        };
        let request = PoolRequest {
            address_space: match req.address_space.trim() {
                "" => LOCAL_ADDRESS_SPACE.into(),
                space => space.into(),
            },
            subnet: parse_optional("pool", &req.pool)?,
            range: parse_optional("--ip-range", &req.sub_pool)?,
            v6: req.v6,
        };
        // Only a default pool has to avoid what the host already routes; don't pay for the
        // route dump otherwise.
        let host_prefixes = match request.subnet {
            Some(_) => Vec::new(),
            None => self.dataplane.snapshot()?.used_prefixes,
        };
        let pool = self.update(|state| {
            Ok(ipam::request_pool(
                state,
                &self.config.default_pools,
                &host_prefixes,
                &request,
            )?)
        })?;
        tracing::info!(pool = %pool.subnet, id = %pool.id, "pool reserved");
        Ok(RequestPoolResponse {
            pool_id: pool.id,
            pool: pool.subnet.to_string(),
            data: BTreeMap::new(),
        })
    }

    pub fn release_pool(&self, req: &ReleasePoolRequest) -> Result<()> {
        let pool = self.update(|state| Ok(ipam::release_pool(state, &req.pool_id)?))?;
        tracing::info!(pool = %pool.subnet, "pool released");
        Ok(())
    }

    pub fn request_address(&self, req: &RequestAddressRequest) -> Result<RequestAddressResponse> {
        let wanted = match req.address.trim() {
            "" => None,
            text => Some(ipam::parse_address("address", text)?),
        };
        let is_gateway = req
            .options
            .as_ref()
            .and_then(|o| o.get(REQUEST_ADDRESS_TYPE))
            .is_some_and(|t| t == GATEWAY_ADDRESS_TYPE);
        let kind = if is_gateway {
            Allocation::Gateway
        } else {
            Allocation::Docker
        };
        let address =
            self.update(|state| Ok(ipam::request_address(state, &req.pool_id, wanted, kind)?))?;
        tracing::debug!(%address, pool = %req.pool_id, "address allocated");
        Ok(RequestAddressResponse {
            address: address.to_string(),
            data: BTreeMap::new(),
        })
    }

    pub fn release_address(&self, req: &ReleaseAddressRequest) -> Result<()> {
        let address = ipam::parse_address("address", &req.address)?;
        self.update(|state| Ok(ipam::release_address(state, &req.pool_id, address)?))?;
        tracing::debug!(%address, pool = %req.pool_id, "address released");
        Ok(())
    }
}
