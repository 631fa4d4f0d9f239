use super::*;

fn none() -> RemoteHosts {
    RemoteHosts::default()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pool_req(subnet: Option<&str>, v6: bool) -> PoolRequest {
    PoolRequest {
        address_space: "local".into(),
        subnet: subnet.map(net),
        range: None,
        v6,
    }
}

fn new_pool(state: &mut Draft, subnet: &str) -> String {
    request_pool(
        state,
        &DefaultPools::default(),
        &[],
        &[],
        &pool_req(Some(subnet), subnet.contains(':')),
    )
    .unwrap()
    .id
}

#[test]
fn requested_pool_and_gateway_then_sequential_addresses() {
    let mut state = Draft::new(State::new());
    let id = new_pool(&mut state, "10.46.0.0/16");
    let gw = request_address(&mut state, &id, None, Allocation::Gateway, &none()).unwrap();
    assert_eq!(gw, net("10.46.0.1/16"));
    let a = request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap();
    let b = request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap();
    assert_eq!((a, b), (net("10.46.0.2/16"), net("10.46.0.3/16")));
    // A released address is not handed out again at once.
    release_address(&mut state, &id, ip("10.46.0.2")).unwrap();
    let c = request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap();
    assert_eq!(c, net("10.46.0.4/16"));
}

#[test]
fn static_address_rules() {
    let mut state = Draft::new(State::new());
    let id = new_pool(&mut state, "10.46.0.0/16");
    let a = request_address(
        &mut state,
        &id,
        Some(ip("10.46.1.7")),
        Allocation::Docker,
        &none(),
    )
    .unwrap();
    assert_eq!(a, net("10.46.1.7/16"));
    let dup = request_address(
        &mut state,
        &id,
        Some(ip("10.46.1.7")),
        Allocation::Docker,
        &none(),
    );
    assert!(matches!(dup, Err(IpamError::InUse { .. })), "{dup:?}");
    assert!(dup
        .unwrap_err()
        .to_string()
        .contains("10.46.1.7 is already in use"));
    let outside = request_address(
        &mut state,
        &id,
        Some(ip("10.47.0.1")),
        Allocation::Docker,
        &none(),
    );
    assert!(matches!(outside, Err(IpamError::OutsidePool { .. })));
    let network = request_address(
        &mut state,
        &id,
        Some(ip("10.46.0.0")),
        Allocation::Docker,
        &none(),
    );
    assert!(matches!(network, Err(IpamError::Reserved { .. })));
    let bcast = request_address(
        &mut state,
        &id,
        Some(ip("10.46.255.255")),
        Allocation::Docker,
        &none(),
    );
    assert!(matches!(bcast, Err(IpamError::Reserved { .. })));
}

#[test]
fn exhausted_pool_is_a_clear_error_and_recovers_after_release() {
    let mut state = Draft::new(State::new());
    let id = new_pool(&mut state, "10.46.0.0/30");
    request_address(&mut state, &id, None, Allocation::Gateway, &none()).unwrap();
    request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap();
    let err = request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap_err();
    assert!(
        matches!(err, IpamError::Exhausted { usable: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("exhausted"));
    release_address(&mut state, &id, ip("10.46.0.2")).unwrap();
    let again = request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap();
    assert_eq!(again, net("10.46.0.2/30"));
}

#[test]
fn ip_range_limits_dynamic_addresses_only() {
    let mut state = Draft::new(State::new());
    let req = PoolRequest {
        range: Some(net("10.46.1.0/30")),
        ..pool_req(Some("10.46.0.0/16"), false)
    };
    let id = request_pool(&mut state, &DefaultPools::default(), &[], &[], &req)
        .unwrap()
        .id;
    let gw = request_address(&mut state, &id, None, Allocation::Gateway, &none()).unwrap();
    assert_eq!(gw, net("10.46.0.1/16"));
    let a = request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap();
    assert_eq!(a, net("10.46.1.1/16"));
    request_address(
        &mut state,
        &id,
        Some(ip("10.46.9.9")),
        Allocation::Docker,
        &none(),
    )
    .unwrap();
    request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap();
    assert!(request_address(&mut state, &id, None, Allocation::Docker, &none()).is_err());
    let bad = PoolRequest {
        range: Some(net("10.99.0.0/24")),
        ..pool_req(Some("10.50.0.0/16"), false)
    };
    assert!(request_pool(&mut state, &DefaultPools::default(), &[], &[], &bad).is_err());
}

#[test]
fn overlapping_pools_are_refused() {
    let mut state = Draft::new(State::new());
    new_pool(&mut state, "10.46.0.0/16");
    let err = request_pool(
        &mut state,
        &DefaultPools::default(),
        &[],
        &[],
        &pool_req(Some("10.46.3.0/24"), false),
    )
    .unwrap_err();
    assert_eq!(
        err,
        IpamError::Overlap {
            wanted: net("10.46.3.0/24"),
            existing: net("10.46.0.0/16")
        }
    );
    assert_eq!(state.state().pools.len(), 1);
}

#[test]
fn default_pools_skip_wharf_pools_and_host_routes_and_rotate() {
    let mut state = Draft::new(State::new());
    let defaults = DefaultPools::default();
    new_pool(&mut state, "10.47.0.0/24");
    let host = [net("10.47.1.0/24")];
    let a = request_pool(&mut state, &defaults, &host, &[], &pool_req(None, false)).unwrap();
    assert_eq!(a.subnet, net("10.47.2.0/24"));
    assert!(a.from_defaults);
    // Docker may release a pool and ask again: it gets the next one, not the same forever.
    release_pool(&mut state, &a.id).unwrap();
    let b = request_pool(&mut state, &defaults, &host, &[], &pool_req(None, false)).unwrap();
    assert_eq!(b.subnet, net("10.47.3.0/24"));
    let v6 = request_pool(&mut state, &defaults, &host, &[], &pool_req(None, true)).unwrap();
    assert_eq!(v6.subnet, net("fd5e:1c4d:9a2b::/64"));
}

#[test]
fn default_pools_run_out_with_a_clear_error() {
    let mut state = Draft::new(State::new());
    let defaults = DefaultPools {
        v4: vec![net("10.47.0.0/23")],
        ..DefaultPools::default()
    };
    request_pool(&mut state, &defaults, &[], &[], &pool_req(None, false)).unwrap();
    request_pool(&mut state, &defaults, &[], &[], &pool_req(None, false)).unwrap();
    let err = request_pool(&mut state, &defaults, &[], &[], &pool_req(None, false)).unwrap_err();
    assert!(err.to_string().contains("--default-pool"), "{err}");
}

#[test]
fn ipv6_pool_addresses() {
    let mut state = Draft::new(State::new());
    let id = new_pool(&mut state, "fd4e:46::/64");
    let gw = request_address(&mut state, &id, None, Allocation::Gateway, &none()).unwrap();
    assert_eq!(gw, net("fd4e:46::1/64"));
    let a = request_address(&mut state, &id, None, Allocation::Docker, &none()).unwrap();
    assert_eq!(a, net("fd4e:46::2/64"));
    let anycast = request_address(
        &mut state,
        &id,
        Some(ip("fd4e:46::")),
        Allocation::Docker,
        &none(),
    );
    assert!(matches!(anycast, Err(IpamError::Reserved { .. })));
}

#[test]
fn parse_errors_name_the_value() {
    let err = parse_prefix("pool", "10.46.0.0/33")
        .unwrap_err()
        .to_string();
    assert!(err.contains("10.46.0.0/33"), "{err}");
    assert!(err.contains("prefix length 33 is longer than 32"), "{err}");
    let err = parse_prefix("pool", "fd4e::/129").unwrap_err().to_string();
    assert!(
        err.contains("prefix length 129 is longer than 128"),
        "{err}"
    );
    let err = parse_prefix("pool", "not-a-cidr/99")
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected a CIDR"), "{err}");
    let err = parse_prefix("pool", "10.46.0.1/16").unwrap_err();
    assert!(err.to_string().contains("10.46.0.0/16"), "{err}");
    assert_eq!(
        parse_address("address", "10.46.0.9/16").unwrap(),
        ip("10.46.0.9")
    );
    assert!(parse_address("address", "nope").is_err());
}

#[test]
fn unknown_pool_and_unallocated_release() {
    let mut state = Draft::new(State::new());
    assert!(matches!(
        request_address(
            &mut state,
            "local/1.2.3.0/24",
            None,
            Allocation::Docker,
            &none()
        ),
        Err(IpamError::UnknownPool(_))
    ));
    let id = new_pool(&mut state, "10.46.0.0/24");
    assert!(matches!(
        release_address(&mut state, &id, ip("10.46.0.9")),
        Err(IpamError::NotAllocated { .. })
    ));
}

#[test]
fn a_host_block_confines_a_spanning_subnet_unless_docker_names_a_range() {
    let mut state = Draft::new(State::new());
    let blocks = [net("10.81.2.0/24"), net("fd81:0:0:2::/64")];
    let pool = request_pool(
        &mut state,
        &DefaultPools::default(),
        &[],
        &blocks,
        &pool_req(Some("10.81.0.0/16"), false),
    )
    .unwrap();
    assert_eq!(pool.range, Some(net("10.81.2.0/24")));
    // The gateway (the host's own address) stays where Docker puts it.
    let gw = request_address(
        &mut state,
        &pool.id,
        Some(ip("10.81.0.1")),
        Allocation::Gateway,
        &none(),
    );
    assert_eq!(gw.unwrap(), net("10.81.0.1/16"));
    let a = request_address(&mut state, &pool.id, None, Allocation::Docker, &none()).unwrap();
    assert_eq!(
        a,
        net("10.81.2.1/16"),
        "the first address of this host's block"
    );
    // A subnet that holds no block is left whole; Docker's --ip-range wins over a block.
    let other = request_pool(
        &mut state,
        &DefaultPools::default(),
        &[],
        &blocks,
        &pool_req(Some("10.82.0.0/16"), false),
    )
    .unwrap();
    assert_eq!(other.range, None);
    let ranged = PoolRequest {
        range: Some(net("fd81:0:0:7::/64")),
        ..pool_req(Some("fd81::/48"), true)
    };
    let pool6 = request_pool(&mut state, &DefaultPools::default(), &[], &blocks, &ranged).unwrap();
    assert_eq!(pool6.range, Some(net("fd81:0:0:7::/64")));
}

#[test]
fn an_address_a_peer_routes_here_is_never_handed_out() {
    let mut state = Draft::new(State::new());
    let id = new_pool(&mut state, "10.81.0.0/16");
    let mut remote = RemoteHosts::default();
    for taken in ["10.81.0.1", "10.81.0.2", "10.81.0.4"] {
        remote.insert(ip(taken));
    }
    let a = request_address(&mut state, &id, None, Allocation::Docker, &remote).unwrap();
    let b = request_address(&mut state, &id, None, Allocation::Docker, &remote).unwrap();
    assert_eq!((a, b), (net("10.81.0.3/16"), net("10.81.0.5/16")));
    let asked = request_address(
        &mut state,
        &id,
        Some(ip("10.81.0.4")),
        Allocation::Docker,
        &remote,
    );
    let err = asked.unwrap_err();
    assert!(matches!(err, IpamError::UsedElsewhere { .. }), "{err:?}");
    assert!(err.to_string().contains("--host-block"), "{err}");
    // Nothing was taken by the refusal.
    remote.remove(ip("10.81.0.4"));
    let now = request_address(
        &mut state,
        &id,
        Some(ip("10.81.0.4")),
        Allocation::Docker,
        &remote,
    );
    assert_eq!(now.unwrap(), net("10.81.0.4/16"));
}

#[test]
fn a_block_full_of_remote_addresses_is_reported_exhausted() {
    let mut state = Draft::new(State::new());
    let req = PoolRequest {
        range: Some(net("10.81.3.0/30")),
        ..pool_req(Some("10.81.0.0/16"), false)
    };
    let pool = request_pool(&mut state, &DefaultPools::default(), &[], &[], &req).unwrap();
    let mut remote = RemoteHosts::default();
    remote.insert(ip("10.81.3.1"));
    remote.insert(ip("10.81.3.2"));
    let err = request_address(&mut state, &pool.id, None, Allocation::Docker, &remote);
    assert!(matches!(err, Err(IpamError::Exhausted { .. })), "{err:?}");
}
