//! ipvlan networks, the parents wharf makes (802.1Q sub-interfaces, dummies) and host shims,
//! against the recording dataplane.

use super::*;
use crate::dataplane::{IpvlanFlag, IpvlanMode, SubLinkKind, PARENT_ALIAS};
use crate::model::Routing;
use crate::modes::parent::{Attachment, ParentOrigin};

const OTHER: &str = "72c5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const POOL: &str = "local/10.50.0.0/24";

fn attachment(f: &Fixture, id: &str) -> Attachment {
    crate::modes::parent::attachment(&f.engine.state().networks[id]).unwrap()
}

fn error(result: Result<impl std::fmt::Debug>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn ipvlan_l2_endpoint_keeps_the_parents_mac_and_the_gateway() {
    let f = network_on_eth1("ipvlan-l2", json!({"mode": "ipvlan", "parent": "eth1"}));
    assert_eq!(
        attachment(&f, NET).kind,
        SubLinkKind::Ipvlan {
            mode: IpvlanMode::L2,
            flag: IpvlanFlag::Bridge
        }
    );
    let addr = f
        .plugin
        .request_address(&parse(json!({"PoolID": POOL, "Address": ""})))
        .unwrap();
    let created = f
        .plugin
        .create_endpoint(&parse(json!({"NetworkID": NET, "EndpointID": EP_A,
            "Interface": {"Address": addr.address, "MacAddress": ""}})))
        .unwrap();
    // The link carries the parent's MAC: Docker is told none.
    assert_eq!(created.interface.mac_address, None);
    assert!(f
        .kernel
        .calls()
        .contains(&Call::CreateSubLink("wcdabd000000".into())));
    let joined = join(&f, EP_A);
    assert_eq!(joined.gateway, "10.50.0.1");
    assert!(joined.static_routes.is_empty() && !joined.disable_gateway_service);
    assert!(!forwarding_requested(&f));

    // A MAC of its own, or extra addresses, cannot be had on ipvlan: clear errors.
    let err = error(f.plugin.create_endpoint(&parse(json!({"NetworkID": NET,
        "EndpointID": EP_B, "Interface": {"Address": "10.50.0.9/24",
        "MacAddress": "02:42:0a:32:00:09"}}))));
    assert!(err.contains("--mac-address"), "{err}");
    // Extra addresses: the link is found in the sandbox by the parent's MAC and its address.
    create_endpoint(
        &f,
        POOL,
        EP_B,
        Some("10.50.0.9"),
        json!({"wharf.addresses": "10.50.0.20"}),
    )
    .unwrap();
    let work = f
        .plugin
        .join(&parse(json!({"NetworkID": NET, "EndpointID": EP_B,
            "SandboxKey": "/var/run/docker/netns/y"})))
        .unwrap()
        .1
        .unwrap();
    assert_eq!(work.mac, [0x02, 0, 0, 0, 0, 0x01]);
    assert_eq!(work.with_address, Some("10.50.0.9".parse().unwrap()));
    f.plugin.delete_endpoint(&ep(EP_B)).unwrap();
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    assert!(f.kernel.links().is_empty());
}

#[test]
fn ipvlan_l3_binds_the_default_route_to_the_interface() {
    for mode in ["l3", "l3s"] {
        let f = fixture(&format!("ipvlan-{mode}"));
        f.kernel.add_parent("eth1", 1500);
        let options = json!({"mode": "ipvlan", "parent": "eth1", "ipvlan_mode": mode});
        create_network_on(&f, NET, "10.50.0.0/24", options).unwrap();
        create_endpoint(&f, POOL, EP_A, None, json!({})).unwrap();
        let joined = join(&f, EP_A);
        assert_eq!(joined.gateway, "", "{mode}: no gateway");
        assert!(joined.disable_gateway_service);
        let routes: Vec<_> = joined
            .static_routes
            .iter()
            .map(|r| (r.destination.as_str(), r.route_type))
            .collect();
        assert_eq!(routes, [("0.0.0.0/0", ROUTE_TYPE_CONNECTED)], "{mode}");
    }
}

#[test]
fn for_a_routing_daemon_ipvlan_l3_containers_get_a_host_route_on_the_parent() {
    let route = HostRoute {
        destination: "10.50.0.7/32".parse().unwrap(),
        device: "eth1".into(),
        source: None,
    };
    for mode in ["l3", "l3s"] {
        let f = fixture(&format!("export-{mode}"));
        f.kernel.add_parent("eth1", 1500);
        let options = json!({"mode": "ipvlan", "parent": "eth1", "ipvlan_mode": mode});
        create_network_on(&f, NET, "10.50.0.0/24", options).unwrap();
        create_endpoint(&f, POOL, EP_A, Some("10.50.0.7"), json!({})).unwrap();
        assert!(f.kernel.routes().iter().eq([&route]), "{mode}");
        // Lost (a hand, a parent's flap): reconciliation puts it back.
        f.kernel.drop_route(&route);
        f.engine.reconcile().unwrap();
        assert!(f.kernel.routes().contains(&route), "{mode}: restored");
        f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
        assert!(
            f.kernel.routes().is_empty(),
            "{mode}: goes with its endpoint"
        );
    }
    // L2 containers are on the segment; advertise=none asks for nothing to be spread; the
    // embedded speaker announces without kernel routes.
    let cases = [
        (
            json!({"mode": "ipvlan", "parent": "eth1"}),
            Routing::External,
        ),
        (
            json!({"mode": "ipvlan", "parent": "eth1", "ipvlan_mode": "l3", "advertise": "none"}),
            Routing::External,
        ),
        (
            json!({"mode": "ipvlan", "parent": "eth1", "ipvlan_mode": "l3"}),
            Routing::Bgp,
        ),
    ];
    for (i, (options, routing)) in cases.into_iter().enumerate() {
        let defaults = ModeDefaults {
            routing,
            ..ModeDefaults::default()
        };
        let f = start_with(
            temp_dir(&format!("export-none-{i}")),
            recording(),
            &defaults,
        );
        f.kernel.add_parent("eth1", 1500);
        create_network_on(&f, NET, "10.50.0.0/24", options.clone()).unwrap();
        create_endpoint(&f, POOL, EP_A, Some("10.50.0.7"), json!({})).unwrap();
        assert!(f.kernel.routes().is_empty(), "{options} {routing:?}");
    }
}

#[test]
fn a_parent_carries_one_ipvlan_network_and_never_macvlan_with_it() {
    let f = network_on_eth1(
        "ipvlan-sharing",
        json!({"mode": "ipvlan", "parent": "eth1"}),
    );
    let before = f.engine.state();
    for options in [
        json!({"mode": "ipvlan", "parent": "eth1", "ipvlan_mode": "l3"}),
        json!({"mode": "macvlan", "parent": "eth1"}),
    ] {
        let err = error(create_network_on(&f, OTHER, "10.51.0.0/24", options));
        assert!(
            err.contains("parent eth1 is used by ipvlan l2 bridge network 71c5aaaaaaaa"),
            "{err}"
        );
        assert_eq!(f.engine.state(), before, "nothing taken");
    }
}

#[test]
fn a_missing_vlan_parent_is_made_and_goes_with_its_last_network() {
    let f = fixture("vlan-parent");
    f.kernel.add_parent("eth1", 9000);
    let options = json!({"mode": "macvlan", "parent": "eth1.30"});
    create_network_on(&f, NET, "10.50.0.0/24", options.clone()).unwrap();
    assert!(f
        .kernel
        .calls()
        .contains(&Call::CreateParent("eth1.30".into())));
    assert_eq!(f.kernel.links()["eth1.30"], PARENT_ALIAS);
    assert_eq!(
        attachment(&f, NET).origin,
        ParentOrigin::Vlan {
            base: "eth1".into(),
            id: 30
        }
    );
    assert_eq!(f.engine.state().networks[NET].mtu, 9000, "the base's");
    // A second macvlan network shares it; it stays until the last one goes.
    create_network_on(&f, OTHER, "10.51.0.0/24", options).unwrap();
    assert_eq!(attachment(&f, OTHER).origin, attachment(&f, NET).origin);
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(f.kernel.links().contains_key("eth1.30"));
    f.plugin
        .delete_network(&parse(json!({"NetworkID": OTHER})))
        .unwrap();
    assert!(f.kernel.links().is_empty(), "{:?}", f.kernel.links());
}

#[test]
fn a_vlan_parent_wharf_did_not_make_is_kept() {
    let f = fixture("vlan-theirs");
    f.kernel.add_parent("eth1", 1500);
    f.kernel.add_parent("eth1.40", 1500);
    create_network_on(
        &f,
        NET,
        "10.50.0.0/24",
        json!({"mode": "ipvlan", "parent": "eth1.40"}),
    )
    .unwrap();
    assert_eq!(attachment(&f, NET).origin, ParentOrigin::Host);
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(!f
        .kernel
        .calls()
        .iter()
        .any(|c| matches!(c, Call::CreateParent(_) | Call::DeleteLink(_))));
}

#[test]
fn bad_parents_are_clear_errors_and_make_nothing() {
    let f = fixture("bad-parents");
    f.kernel.add_parent("eth1", 1500);
    for (parent, needle) in [
        ("eth1.0", "VLAN id 0 is outside 1-4094"),
        ("eth1.5000", "VLAN id 5000 is outside 1-4094"),
        ("eth9.30", "neither does eth9"),
        ("eth9", "parent eth9 does not exist"),
        ("a-very-long-name.30", "not an interface name"),
    ] {
        let options = json!({"mode": "ipvlan", "parent": parent});
        let err = error(create_network_on(&f, NET, "10.50.0.0/24", options));
        assert!(err.contains(needle), "{parent}: {err}");
    }
    let options = json!({"mode": "ipvlan", "parent": "eth1", "mtu": "9000"});
    let err = error(create_network_on(&f, NET, "10.50.0.0/24", options));
    assert!(err.contains("9000") && err.contains("(1500)"), "{err}");
    assert_eq!(f.engine.state(), State::new());
    assert!(f.kernel.links().is_empty());
}

#[test]
fn no_parent_means_an_internal_network_on_a_dummy() {
    let f = fixture("dummy-parent");
    create_network_on(&f, NET, "10.50.0.0/24", json!({"mode": "ipvlan"})).unwrap();
    let network = f.engine.state().networks[NET].clone();
    assert!(network.internal);
    assert_eq!(network.mtu, 1500);
    let attachment = crate::modes::parent::attachment(&network).unwrap();
    assert_eq!(
        (attachment.parent.as_str(), attachment.origin),
        ("wd71c5aaaaaa", ParentOrigin::Dummy)
    );
    create_endpoint(&f, POOL, EP_A, None, json!({})).unwrap();
    let joined = join(&f, EP_A);
    assert!(joined.gateway.is_empty() && joined.disable_gateway_service);
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(f.kernel.links().is_empty());
    // macvlan: only an --internal network without a parent goes on a dummy.
    let f = fixture("dummy-macvlan");
    let err = error(create_network_on(
        &f,
        NET,
        "10.50.0.0/24",
        json!({"mode": "macvlan"}),
    ));
    assert!(err.contains("--internal"), "{err}");
}

#[test]
fn host_shim_gets_an_address_and_a_route_to_each_container() {
    let f = fixture("shim");
    f.kernel.add_parent("eth1", 1500);
    let options = json!({"mode": "macvlan", "parent": "eth1", "host_shim": "true"});
    create_network_on(&f, NET, "10.50.0.0/24", options).unwrap();
    let shim = attachment(&f, NET).shim.unwrap();
    assert_eq!(shim.name, "ws71c5aaaaaa");
    let shim_address = shim.addresses[0].address;
    assert_eq!(shim_address.to_string(), "10.50.0.2", "after the gateway");
    assert_eq!(
        f.kernel.links()["ws71c5aaaaaa"],
        format!("wharf:shim:{NET}")
    );
    create_endpoint(&f, POOL, EP_A, Some("10.50.0.7"), json!({})).unwrap();
    let route = HostRoute {
        destination: "10.50.0.7/32".parse().unwrap(),
        device: "ws71c5aaaaaa".into(),
        source: Some(shim_address),
    };
    assert!(f.kernel.routes().iter().eq([&route]));

    // After a reboot the shim and its routes are gone: reconciliation makes them again.
    f.kernel.drop_link("ws71c5aaaaaa");
    let (plan, _) = f.engine.reconcile().unwrap();
    assert_eq!(
        plan.make
            .iter()
            .filter(|o| matches!(o, crate::dataplane::HostObject::SubLink(_)))
            .count(),
        1
    );
    assert!(f.kernel.links().contains_key("ws71c5aaaaaa"));
    assert!(f.kernel.routes().contains(&route));

    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    assert!(f.kernel.routes().is_empty());
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(f.kernel.links().is_empty());
    let pool = &f.engine.state().pools[POOL];
    assert!(
        !pool.allocations.contains_key(&shim_address),
        "address given back"
    );
}

#[test]
fn host_shim_refusals_and_failures_leave_nothing() {
    let f = fixture("shim-bad");
    f.kernel.add_parent("eth1", 1500);
    for (options, needle) in [
        (
            json!({"mode": "macvlan", "parent": "eth1", "macvlan_mode": "private", "host_shim": "true"}),
            "not possible with macvlan private",
        ),
        (
            json!({"mode": "ipvlan", "parent": "eth1", "ipvlan_flag": "private", "host_shim": "1"}),
            "not possible with ipvlan l2 private",
        ),
    ] {
        let err = error(create_network_on(&f, NET, "10.50.0.0/24", options));
        assert!(err.contains(needle), "{err}");
    }
    // The shim cannot be made: the VLAN parent made for it goes again, nothing is kept.
    f.kernel.fail_on("create_sub_link");
    let options = json!({"mode": "ipvlan", "parent": "eth1.30", "host_shim": "true"});
    assert!(create_network_on(&f, NET, "10.50.0.0/24", options).is_err());
    assert!(f.kernel.links().is_empty(), "{:?}", f.kernel.links());
    assert_eq!(f.engine.state(), State::new());
    f.kernel.heal();
    // A subnet another IPAM driver manages has no address for the shim.
    let err = error(f.plugin.create_network(&parse(json!({"NetworkID": NET,
        "Options": {"com.docker.network.generic":
            {"mode": "ipvlan", "parent": "eth1", "host_shim": "true"}},
        "IPv4Data": [{"AddressSpace": "x", "Gateway": "10.60.0.1/24", "Pool": "10.60.0.0/24"}]}))));
    assert!(err.contains("--ipam-driver wharf"), "{err}");
    assert!(f.kernel.links().is_empty());
}

#[test]
fn reconcile_makes_missing_parents_again_and_deletes_stray_ones() {
    let f = network_on_eth1(
        "reconcile-parents",
        json!({"mode": "ipvlan", "parent": "eth1.30"}),
    );
    f.kernel.drop_link("eth1.30");
    f.kernel.add_link("eth1.99", PARENT_ALIAS);
    let (plan, _) = f.engine.reconcile().unwrap();
    assert_eq!(
        plan.make
            .iter()
            .filter(|o| matches!(o, crate::dataplane::HostObject::Parent(_)))
            .count(),
        1
    );
    assert_eq!(plan.delete_links, ["eth1.99"]);
    assert_eq!(f.kernel.links()["eth1.30"], PARENT_ALIAS);
    assert!(!f.kernel.links().contains_key("eth1.99"));
}

#[test]
fn a_marked_parent_no_network_records_is_adopted_and_kept_while_used() {
    let f = fixture("adopt-parent");
    f.kernel.add_parent("eth1", 1500);
    // Left by a network whose delete could not remove it: wharf's mark, no record.
    f.kernel.add_parent("eth1.50", 1500);
    f.kernel.add_link("eth1.50", PARENT_ALIAS);
    create_network_on(
        &f,
        NET,
        "10.50.0.0/24",
        json!({"mode": "ipvlan", "parent": "eth1.50"}),
    )
    .unwrap();
    assert_eq!(
        attachment(&f, NET).origin,
        ParentOrigin::Vlan {
            base: "eth1".into(),
            id: 50
        }
    );
    let (plan, _) = f.engine.reconcile().unwrap();
    assert!(plan.delete_links.is_empty(), "{plan:?}");
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(!f.kernel.links().contains_key("eth1.50"));
}
