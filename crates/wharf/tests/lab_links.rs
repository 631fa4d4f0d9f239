//! Parents and sub-links in a kernel with the ipvlan, 8021q and dummy modules, which only the
//! lab has (lab/README.md): this machine's kernel lacks all three. Every test here is named
//! `lab_*`; the unit stage on the host skips that name explicitly and the lab stage runs it.

mod support;

use imbl::OrdMap;
use support::*;
use wharf::dataplane::{HostObject, IpvlanFlag, IpvlanMode, ParentKind, ParentSpec, SubLinkKind};
use wharf::model::{Endpoint, ExtraAddress, Network, Subnet};
use wharf::modes::ipvlan::Ipvlan;
use wharf::modes::parent::{Attachment, ParentDefaults, ParentOrigin, Shim};
use wharf::modes::NetworkMode;

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
        let links = &dataplane.links;
        links.create_parent(&vlan("up0.30", "up0", 30)).unwrap();
        let shown = link_details("up0.30");
        assert!(shown.contains("vlan protocol 802.1Q id 30 "), "{shown}");
        assert!(shown.contains("alias wharf:parent"), "{shown}");
        assert!(shown.contains(",UP,") || shown.contains(",UP>"), "{shown}");
        assert!(links.link("up0.30").unwrap().unwrap().owned_parent);
        assert!(!links.link("up0").unwrap().unwrap().owned_parent);

        // A name that is taken, or a base that is missing: an error naming it, nothing made.
        let err = links.create_parent(&vlan("up0.30", "up0", 30)).unwrap_err();
        assert!(err.to_string().contains("up0.30"), "{err}");
        assert!(err.is_exists(), "{err:?}");
        let err = links
            .create_parent(&vlan("nope0.40", "nope0", 40))
            .unwrap_err();
        assert!(err.to_string().contains("nope0 does not exist"), "{err}");

        let dummy = ParentSpec {
            name: "wd0000000001".into(),
            kind: ParentKind::Dummy,
            mtu: 9000,
        };
        links.create_parent(&dummy).unwrap();
        let shown = link_details("wd0000000001");
        assert!(
            shown.contains("mtu 9000") && shown.contains("dummy"),
            "{shown}"
        );
        assert!(links.link("wd0000000001").unwrap().unwrap().owned_parent);

        // Removing parents as a plan does: only while they carry wharf's mark.
        let parents = [
            HostObject::Parent(vlan("up0.30", "up0", 30)),
            HostObject::Parent(dummy),
        ];
        dataplane.remove(&parents, &|_| false).unwrap();
        let left = links.owned_links().unwrap();
        assert!(left.is_empty(), "{left:?}");
    });
}

/// An ipvlan network on a dummy parent with a shim at 10.50.0.2.
fn ipvlan_network(mode: IpvlanMode) -> Network {
    let attachment = Attachment {
        parent: "wd00000000aa".into(),
        kind: SubLinkKind::Ipvlan {
            mode,
            flag: IpvlanFlag::Bridge,
        },
        origin: ParentOrigin::Dummy,
        shim: Some(Shim {
            name: "ws00000000aa".into(),
            addresses: vec![ExtraAddress {
                address: ip("10.50.0.2"),
                pool_id: "p".into(),
            }],
        }),
    };
    Network {
        id: "00000000aa".into(),
        mode: "ipvlan".into(),
        name: None,
        mtu: 1500,
        internal: false,
        ipv6: false,
        subnets: vec![Subnet {
            prefix: "10.50.0.0/24".parse().unwrap(),
            gateway: Some(ip("10.50.0.1")),
            pool_id: Some("p".into()),
        }],
        config: serde_json::to_value(attachment).unwrap(),
        endpoints: OrdMap::new(),
    }
}

fn endpoint(tag: &str, address: &str) -> Endpoint {
    Endpoint {
        id: format!("00000000{tag}{}", "0".repeat(54)),
        host_ifname: format!("wc00000000{tag}"),
        container_ifname: format!("wc00000000{tag}"),
        mac: String::new(),
        primary: vec![format!("{address}/24").parse().unwrap()],
        extra: Vec::new(),
        sandbox: None,
    }
}

#[test]
#[ignore = "needs root and the lab's kernel (ipvlan, dummy); run by scripts/test"]
fn lab_ipvlan_containers_reach_each_other_and_the_host_through_the_shim() {
    let defaults = ParentDefaults {
        parent: None,
        mtu: 1500,
    };
    for mode in [IpvlanMode::L2, IpvlanMode::L3, IpvlanMode::L3s] {
        in_test_host(|dataplane| {
            let ipvlan = Ipvlan::new(defaults.clone(), IpvlanMode::L2, false);
            let network = ipvlan_network(mode);
            let network_objects = ipvlan.network_objects(&network).unwrap();
            dataplane.make(&network_objects).unwrap();
            let shown = link_details("ws00000000aa");
            let flag = format!("ipvlan  mode {} bridge", mode.name());
            assert!(shown.contains(&flag), "{flag:?} in {shown}");

            let mut containers = Vec::new();
            for (tag, address) in [("a1", "10.50.0.7"), ("b1", "10.50.0.8")] {
                let endpoint = endpoint(tag, address);
                let objects = ipvlan.endpoint_objects(&network, &endpoint).unwrap();
                dataplane.make(&objects).unwrap();
                let answer = ipvlan.join(&network, &endpoint).unwrap();
                let container = NamedNetns::new(tag);
                container.adopt_as_docker(
                    &endpoint.container_ifname,
                    &[&format!("{address}/24")],
                    &answer,
                );
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
            dataplane.remove(&network_objects, &|_| false).unwrap();
        });
    }
}
