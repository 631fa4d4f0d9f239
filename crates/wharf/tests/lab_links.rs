//! Parents and sub-links in a kernel with the ipvlan, 8021q and dummy modules, which only the
//! lab has (lab/README.md): this machine's kernel lacks all three. Every test here is named
//! `lab_*`; the unit stage on the host skips that name explicitly and the lab stage runs it.

mod support;

use support::*;
use wharf::dataplane::{Dataplane, HostRoute, ParentKind, ParentSpec, SubLinkSpec};
use wharf::engine::state::{IpvlanFlag, IpvlanMode, SubLinkKind};

fn link_details(name: &str) -> String {
    let shown = output("ip", &["-d", "link", "show", name]);
    String::from_utf8_lossy(&shown.stdout).into_owned()
}

fn vlan(name: &str, base: &str, id: u16) -> ParentSpec {
    ParentSpec {
        name: name.into(),
        kind: ParentKind::Vlan {
            base: base.into(),
            id,
        },
        mtu: 1500,
    }
}

#[test]
#[ignore = "needs root and the lab's kernel (8021q, dummy); run by scripts/test"]
fn lab_vlan_and_dummy_parents_are_made_marked_and_up() {
    in_test_host(|dataplane| {
        run(
            "ip",
            &["link", "add", "up0", "type", "veth", "peer", "name", "up0p"],
        );
        run("ip", &["link", "set", "up0", "up"]);
        run("ip", &["link", "set", "up0p", "up"]);
        dataplane.create_parent(&vlan("up0.30", "up0", 30)).unwrap();
        let shown = link_details("up0.30");
        assert!(shown.contains("vlan protocol 802.1Q id 30 "), "{shown}");
        assert!(shown.contains("alias wharf:parent"), "{shown}");
        assert!(shown.contains(",UP,") || shown.contains(",UP>"), "{shown}");
        assert!(dataplane.parent_link("up0.30").unwrap().unwrap().owned);
        assert!(!dataplane.parent_link("up0").unwrap().unwrap().owned);

        // A name that is taken, or a base that is missing: an error naming it, nothing made.
        let err = dataplane
            .create_parent(&vlan("up0.30", "up0", 30))
            .unwrap_err();
        assert!(err.to_string().contains("up0.30"), "{err}");
        let err = dataplane
            .create_parent(&vlan("nope0.40", "nope0", 40))
            .unwrap_err();
        assert!(err.to_string().contains("nope0 does not exist"), "{err}");

        let dummy = ParentSpec {
            name: "wd0000000001".into(),
            kind: ParentKind::Dummy,
            mtu: 9000,
        };
        dataplane.create_parent(&dummy).unwrap();
        let shown = link_details("wd0000000001");
        assert!(
            shown.contains("mtu 9000") && shown.contains("dummy"),
            "{shown}"
        );
        assert!(
            dataplane
                .parent_link("wd0000000001")
                .unwrap()
                .unwrap()
                .owned
        );

        dataplane.delete_link("up0.30").unwrap();
        dataplane.delete_link("wd0000000001").unwrap();
        let left = dataplane.snapshot().unwrap().owned_links;
        assert!(left.is_empty(), "{left:?}");
    });
}

/// Moves an endpoint's link into `container` as Docker does: eth0, the address, up, and the
/// default route Join asked for (via a gateway, or bound to the interface).
fn adopt(container: &NamedNetns, link: &str, address: &str, default_route: &str) {
    run("ip", &["link", "set", link, "netns", &container.name]);
    container.run(&format!("ip link set {link} name eth0"));
    container.run(&format!("ip addr add {address} dev eth0"));
    container.run("ip link set eth0 up");
    container.run(&format!("ip route add default {default_route}"));
}

#[test]
#[ignore = "needs root and the lab's kernel (ipvlan, dummy); run by scripts/test"]
fn lab_ipvlan_containers_reach_each_other_and_the_host_through_the_shim() {
    for mode in [IpvlanMode::L2, IpvlanMode::L3, IpvlanMode::L3s] {
        in_test_host(|dataplane| {
            let kind = SubLinkKind::Ipvlan {
                mode,
                flag: IpvlanFlag::Bridge,
            };
            let parent = ParentSpec {
                name: "wd00000000aa".into(),
                kind: ParentKind::Dummy,
                mtu: 1500,
            };
            dataplane.create_parent(&parent).unwrap();
            let sub_link = |name: &str, addresses: Vec<std::net::IpAddr>| SubLinkSpec {
                name: name.into(),
                parent: parent.name.clone(),
                kind,
                mtu: 1500,
                mac: None,
                alias: format!("wharf:{name}"),
                addresses,
            };
            dataplane
                .create_sub_link(&sub_link("ws00000000aa", vec![ip("10.50.0.2")]))
                .unwrap();
            let shown = link_details("ws00000000aa");
            let flag = format!("ipvlan  mode {} bridge", mode.name());
            assert!(shown.contains(&flag), "{flag:?} in {shown}");

            let default_route = match mode {
                IpvlanMode::L2 => "via 10.50.0.1",
                _ => "dev eth0",
            };
            let mut containers = Vec::new();
            for (tag, address) in [("a1", "10.50.0.7"), ("b1", "10.50.0.8")] {
                let link = format!("wc00000000{tag}");
                dataplane
                    .create_sub_link(&sub_link(&link, Vec::new()))
                    .unwrap();
                let container = NamedNetns::new(tag);
                adopt(&container, &link, &format!("{address}/24"), default_route);
                dataplane
                    .ensure_routes(&[HostRoute {
                        destination: format!("{address}/32").parse().unwrap(),
                        device: "ws00000000aa".into(),
                        source: Some(ip("10.50.0.2")),
                    }])
                    .unwrap();
                containers.push(container);
            }
            let name = mode.name();
            assert!(containers[0].pings("10.50.0.8"), "{name}: A -> B");
            assert!(containers[1].pings("10.50.0.7"), "{name}: B -> A");
            assert!(
                host_pings("10.50.0.7"),
                "{name}: host -> A through the shim"
            );
            assert!(
                host_pings("10.50.0.8"),
                "{name}: host -> B through the shim"
            );
            assert!(containers[0].pings("10.50.0.2"), "{name}: A -> the shim");
            dataplane.delete_link("wd00000000aa").unwrap();
        });
    }
}
