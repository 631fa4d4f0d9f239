//! Open vSwitch networks through the plugin, against the recording dataplane: what a nat
//! and a flat network make, published ports, refusals that change nothing, and
//! reconciliation of bridges and ports after a crash.

use super::*;
use crate::dataplane::{Datapath, OwnedBridge, OwnedPort, PortKind, PortVlan};

const BRIDGE: &str = "ovs-71c5aaaaaaa";
const GATEWAY_PORT: &str = "wg71c5aaaaaaaa";

fn port_names(f: &Fixture, bridge: &str) -> Vec<String> {
    f.kernel
        .bridges()
        .get(bridge)
        .map(|b| b.ports.iter().map(|p| p.name.clone()).collect())
        .unwrap_or_default()
}

fn publish(f: &Fixture, endpoint: &str, host_port: u16) -> Result<()> {
    f.plugin
        .program_external(&parse(json!({"NetworkID": NET, "EndpointID": endpoint,
            "Options": {"com.docker.network.portmap": [
                {"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": host_port,
                 "HostPortEnd": host_port}]}})))
}

#[test]
fn a_nat_network_gets_a_bridge_a_gateway_port_masquerade_and_published_ports() {
    let f = fixture("ovs-nat");
    let pool = create_network(&f, json!({"mode": "ovs"})).unwrap();
    assert_eq!(port_names(&f, BRIDGE), [GATEWAY_PORT]);
    assert!(f
        .kernel
        .addresses()
        .iter()
        .any(|a| a.device == GATEWAY_PORT && a.address.to_string() == "10.46.0.1"));
    assert!(f
        .kernel
        .routes()
        .iter()
        .any(|r| r.device == GATEWAY_PORT && r.destination.to_string() == "10.46.0.0/16"));
    assert_eq!(f.kernel.nat().masquerade[NET].bridge, GATEWAY_PORT);
    assert!(f.kernel.fences().contains_key(NET));
    assert!(forwarding_requested(&f));

    let a = create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    assert_eq!(a, "10.46.1.7/16");
    assert_eq!(port_names(&f, BRIDGE), [GATEWAY_PORT, "whdabd000000"]);
    assert_eq!(join(&f, EP_A).gateway, "10.46.0.1");
    publish(&f, EP_A, 8080).unwrap();
    let published = &f.kernel.nat().published[EP_A];
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].container_ip.to_string(), "10.46.1.7");
    assert_eq!(
        (published[0].host_port, published[0].container_port),
        (8080, 80)
    );
    // Docker 29 sends it again when the gateway role changes: nothing changes.
    publish(&f, EP_A, 8080).unwrap();

    // A second container may not take the same host port; nothing of it is published.
    create_endpoint(&f, &pool, EP_B, Some("10.46.1.8"), json!({})).unwrap();
    let error = publish(&f, EP_B, 8080).unwrap_err().to_string();
    assert!(
        error.contains("8080/tcp") && error.contains("dabd00000000"),
        "{error}"
    );
    assert!(!f.kernel.nat().published.contains_key(EP_B));
    publish(&f, EP_B, 8081).unwrap();

    f.plugin.revoke_external(&ep(EP_A)).unwrap();
    assert!(!f.kernel.nat().published.contains_key(EP_A));
    // Deleting an endpoint Docker did not revoke takes its ports away too.
    f.plugin.delete_endpoint(&ep(EP_B)).unwrap();
    assert!(f.kernel.nat().published.is_empty());
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    assert_eq!(port_names(&f, BRIDGE), [GATEWAY_PORT]);
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(f.kernel.bridges().is_empty());
    assert!(f.kernel.nat().is_empty());
    assert!(!f.kernel.links().contains_key(GATEWAY_PORT));
}

#[test]
fn bad_port_maps_are_refused_and_change_nothing() {
    let f = fixture("ovs-bad-ports");
    let pool = create_network(&f, json!({"mode": "ovs"})).unwrap();
    create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    for (map, words) in [
        (
            json!([{"Proto": 99, "Port": 80, "HostPort": 80}]),
            "protocol number 99",
        ),
        (
            json!([{"Proto": 6, "Port": 80, "HostPort": 70000}]),
            "70000",
        ),
        (
            json!([{"Proto": 6, "Port": 80, "HostPort": 0}]),
            "HOST_PORT",
        ),
        (
            json!([{"Proto": 6, "Port": 80, "HostIP": "nowhere", "HostPort": 80}]),
            "nowhere",
        ),
        (
            json!([{"Proto": 6, "Port": 80, "HostIP": "fd4e::1", "HostPort": 80}]),
            "family",
        ),
        (json!({"Proto": 6}), "list of port bindings"),
    ] {
        let error = f
            .plugin
            .program_external(&parse(json!({"NetworkID": NET, "EndpointID": EP_A,
                "Options": {"com.docker.network.portmap": map}})))
            .unwrap_err()
            .to_string();
        assert!(error.contains(words), "{map}: {error}");
        assert!(f.kernel.nat().published.is_empty());
    }
}

#[test]
fn flat_networks_share_a_bridge_and_uplink_with_their_own_tags_and_no_nat() {
    let f = fixture("ovs-flat");
    f.kernel.add_parent("eth2", 1500);
    let flat = |tag: &str| {
        json!({"mode": "ovs", "ovs_mode": "flat", "bridge": "ovsbr-flat",
        "uplink": "eth2", "vlan": tag})
    };
    let pool = create_network_on(&f, NET, "10.92.10.0/24", flat("10")).unwrap();
    let other = "72c5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    create_network_on(&f, other, "10.92.20.0/24", flat("20")).unwrap();
    create_endpoint(&f, &pool, EP_A, Some("10.92.10.5"), json!({})).unwrap();
    let bridge = &f.kernel.bridges()["ovsbr-flat"];
    let tag_of = |name: &str| bridge.ports.iter().find(|p| p.name == name).map(|p| p.vlan);
    assert_eq!(tag_of("eth2"), Some(PortVlan::Trunk));
    assert_eq!(tag_of("whdabd000000"), Some(PortVlan::Access(10)));
    assert!(f.kernel.nat().is_empty());
    assert!(f.kernel.fences().is_empty());
    // A macvlan network may not take the uplink meanwhile.
    let third = "73c5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let error = create_network_on(
        &f,
        third,
        "10.92.30.0/24",
        json!({"mode": "macvlan", "parent": "eth2"}),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("interface eth2") || error.contains("parent eth2"),
        "{error}"
    );
    // Nor a network with the other datapath the bridge.
    let error = create_network_on(
        &f,
        third,
        "10.92.30.0/24",
        json!({"mode": "ovs", "bridge": "ovsbr-flat", "datapath": "system"}),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("openvswitch module"), "{error}");
    // The bridge and uplink stay until the last network naming them goes.
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert_eq!(port_names(&f, "ovsbr-flat"), ["eth2"]);
    f.plugin
        .delete_network(&parse(json!({"NetworkID": other})))
        .unwrap();
    assert!(f.kernel.bridges().is_empty());
}

#[test]
fn bad_options_are_refused_and_leave_no_bridge() {
    let f = fixture("ovs-bad-options");
    for generic in [
        json!({"mode": "ovs", "vlan": "4095"}),
        json!({"mode": "ovs", "bridge": "sixteen-chars-xx"}),
        json!({"mode": "ovs", "ovs_mode": "flat", "uplink": "wnosuch0"}),
        json!({"mode": "ovs", "uplink": "eth0"}),
    ] {
        assert!(create_network(&f, generic.clone()).is_err(), "{generic}");
        assert!(f.kernel.bridges().is_empty(), "{generic}");
        assert!(f.engine.state().networks.is_empty());
    }
}

#[test]
fn after_a_crash_lost_bridges_and_ports_are_made_again_and_stale_ones_go() {
    let dir = temp_dir("ovs-restart");
    let host = recording();
    let kernel = host.1.clone();
    let f = start(dir.clone(), host.clone());
    let pool = create_network(&f, json!({"mode": "ovs", "vlan": "7"})).unwrap();
    create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    publish(&f, EP_A, 8080).unwrap();
    let before = kernel.bridges();
    f.crash();

    // ovsdb-server lost its database; an earlier wharf left a bridge and a port.
    kernel.drop_bridges();
    kernel.add_bridge(OwnedBridge {
        name: "ovs-stale".into(),
        datapath: Datapath::Netdev,
        ports: Vec::new(),
    });
    let f = start(dir, host);
    let mut after = kernel.bridges();
    assert_eq!(after, before);
    assert!(kernel.addresses().iter().any(|a| a.device == GATEWAY_PORT));
    assert!(kernel.routes().iter().any(|r| r.device == GATEWAY_PORT));
    assert_eq!(kernel.nat().published[EP_A][0].host_port, 8080);

    // A port whose tag someone changed is put right; one nothing needs goes.
    let bridge = after.get_mut(BRIDGE).unwrap();
    for port in &mut bridge.ports {
        port.vlan = PortVlan::Trunk;
    }
    bridge.ports.push(OwnedPort {
        name: "whffffffffff".into(),
        vlan: PortVlan::Untagged,
        kind: PortKind::System,
    });
    kernel.add_bridge(bridge.clone());
    f.engine.reconcile().unwrap();
    assert_eq!(kernel.bridges(), before);
}

#[test]
fn a_wiped_database_is_put_back_while_wharf_serves() {
    let f = fixture("ovs-wiped");
    let pool = create_network(&f, json!({"mode": "ovs", "vlan": "7"})).unwrap();
    create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    publish(&f, EP_A, 8080).unwrap();
    let before = f.kernel.bridges();
    let addresses = f.kernel.addresses();

    // ovsdb-server came back with an empty database (its links went with it), and an
    // earlier wharf's bridge is there.
    f.kernel.drop_bridges();
    f.kernel.add_bridge(OwnedBridge {
        name: "ovs-stale".into(),
        datapath: Datapath::Netdev,
        ports: Vec::new(),
    });
    assert!(f.engine.reconcile_switches().unwrap() > 0);
    assert_eq!(f.kernel.bridges(), before);
    assert_eq!(f.kernel.addresses(), addresses);
    assert!(f
        .kernel
        .routes()
        .iter()
        .any(|r| r.device == GATEWAY_PORT && r.destination.to_string() == "10.46.0.0/16"));
    assert_eq!(f.kernel.nat().published[EP_A][0].host_port, 8080);
    // Nothing changes the second time.
    f.engine.reconcile_switches().unwrap();
    assert_eq!(f.kernel.bridges(), before);
    assert_eq!(f.kernel.addresses(), addresses);
}

#[test]
fn a_flat_networks_host_address_comes_from_its_pool_and_goes_back_with_it() {
    let f = fixture("ovs-host-address");
    let pool = create_network(
        &f,
        json!({"mode": "ovs", "ovs_mode": "flat", "host_address": "true"}),
    )
    .unwrap();
    let taken: Vec<_> = f.engine.state().pools[&pool]
        .allocations
        .iter()
        .filter(|(_, a)| matches!(a, crate::model::Allocation::Shim { .. }))
        .map(|(address, _)| *address)
        .collect();
    assert_eq!(taken.len(), 1);
    assert!(f
        .kernel
        .addresses()
        .iter()
        .any(|a| a.device == GATEWAY_PORT && a.address == taken[0]));
    assert!(f.kernel.nat().is_empty());
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(f.kernel.bridges().is_empty());
    assert!(f.kernel.addresses().is_empty());
    let state = f.engine.state();
    assert!(!state.pools[&pool]
        .allocations
        .values()
        .any(|a| matches!(a, crate::model::Allocation::Shim { .. })));
}
