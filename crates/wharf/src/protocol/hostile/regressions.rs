//! What the hostile-input tests found, kept as plain tests.

use bytes::Bytes;

use super::*;
use crate::protocol::server::dispatch;

fn send(h: &Host, path: &str, body: Value) -> (StatusCode, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let body = Bytes::from(serde_json::to_vec(&body).expect("json"));
    runtime.block_on(dispatch(h.plugin.clone(), path, body))
}

/// A 5000-character pool was quoted whole in the error (70 kB for a 70 kB input).
#[test]
fn an_error_quoting_a_huge_input_is_cut() {
    let h = populated("huge-error");
    let (status, body) = send(
        &h,
        "/IpamDriver.RequestPool",
        json!({"Pool": "x".repeat(5000)}),
    );
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let err = body["Err"].as_str().expect("Err");
    assert!(err.len() < 1200, "{} bytes", err.len());
    assert!(
        err.contains("invalid pool") && err.ends_with("bytes in all)"),
        "{err}"
    );
    assert!(check_error_text(err).is_ok());
}

/// JSON quoting leaves DEL as it is; it reached the error text raw.
#[test]
fn control_characters_in_an_error_are_escaped() {
    let h = populated("control");
    let (_, body) = send(
        &h,
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": "71c6", "Options": {"com.docker.network.generic": "\u{0}\u{7f}\n"}}),
    );
    let err = body["Err"].as_str().expect("Err");
    assert!(check_error_text(err).is_ok(), "{err:?}");
    assert!(err.contains("\\u{7f}"), "{err}");
}

/// ReleasePool while an endpoint held an extra address from it dropped the pool with the
/// allocation: a new pool of the subnet would have handed the address out again.
#[test]
fn a_pool_is_not_released_under_an_endpoints_extra_address() {
    let h = populated("release-pool");
    let before = h.engine.state();
    let (status, body) = send(&h, "/IpamDriver.ReleasePool", json!({"PoolID": POOL}));
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let err = body["Err"].as_str().expect("Err");
    assert!(
        err.contains("10.46.2.1") && err.contains("remove the endpoint"),
        "{err}"
    );
    assert_eq!(h.engine.state(), before);
    // Once the endpoint is gone, Docker's order works as before.
    let ids = json!({"NetworkID": NET, "EndpointID": EP_A});
    for path in ["/NetworkDriver.Leave", "/NetworkDriver.DeleteEndpoint"] {
        assert_eq!(send(&h, path, ids.clone()).0, StatusCode::OK, "{path}");
    }
    for address in ["10.46.1.7", "10.46.0.1"] {
        let release = json!({"PoolID": POOL, "Address": address});
        assert_eq!(
            send(&h, "/IpamDriver.ReleaseAddress", release).0,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&h, "/IpamDriver.ReleasePool", json!({"PoolID": POOL})).0,
        StatusCode::OK
    );
}

/// ReleaseAddress of an endpoint's extra address freed it while the endpoint kept using it.
#[test]
fn the_runtime_cannot_release_an_address_wharf_took_itself() {
    let h = populated("release-extra");
    let before = h.engine.state();
    let (status, body) = send(
        &h,
        "/IpamDriver.ReleaseAddress",
        json!({"PoolID": POOL, "Address": "10.46.2.1"}),
    );
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body["Err"]
        .as_str()
        .expect("Err")
        .contains("extra address of endpoint dabd00000000"));
    assert_eq!(h.engine.state(), before);
}

/// A second endpoint given an address another endpoint of the network has (a caller that
/// skipped RequestAddress) was accepted: two host routes for one /32.
#[test]
fn two_endpoints_of_a_network_cannot_share_an_address() {
    let h = populated("shared-address");
    for (address, extra) in [
        ("10.46.1.7/16", ""),
        ("10.46.1.8/16", "10.46.1.7"),
        ("10.46.2.1/16", ""),
    ] {
        let before = h.engine.state();
        let calls = h.kernel.calls().len();
        let (status, body) = send(
            &h,
            "/NetworkDriver.CreateEndpoint",
            json!({"NetworkID": NET, "EndpointID": EP_B,
                "Interface": {"Address": address}, "Options": {"wharf.addresses": extra}}),
        );
        assert_eq!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{address} {extra}"
        );
        let err = body["Err"].as_str().expect("Err");
        assert!(err.contains("in use by endpoint dabd00000000"), "{err}");
        assert_eq!(h.engine.state(), before);
        assert_eq!(h.kernel.calls().len(), calls);
    }
}

/// An endpoint created with an address nobody requested from the pool, then a release of
/// that address: the release was refused (not allocated) but had already deleted the
/// endpoint as one Docker forgot. A refused call changes nothing.
#[test]
fn a_refused_release_leaves_the_endpoint_that_uses_the_address() {
    let h = populated("release-unallocated");
    let p = &h.plugin;
    p.create_endpoint(&parse(json!({"NetworkID": NET, "EndpointID": EP_B,
        "Interface": {"Address": "10.46.3.3/16"}})))
        .expect("endpoint without a requested address");
    let before = h.engine.state();
    let (status, body) = send(
        &h,
        "/IpamDriver.ReleaseAddress",
        json!({"PoolID": POOL, "Address": "10.46.3.3"}),
    );
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let err = body["Err"].as_str().expect("Err");
    assert!(err.contains("not allocated"), "{err}");
    assert_eq!(h.engine.state(), before);
}
