//! One file per network mode: what each mode makes of a network and an endpoint.
pub mod macvlan;
pub mod routed;
