//! LinuxDataplane against the real kernel, with the routed mode's objects and Join answers.
//! Each test's "host" is a new network namespace (its thread's); "containers" are named
//! namespaces deleted on drop. Needs root, `ip`, `ping` and `iptables`:
//! `cargo test -- --include-ignored`.

mod support;

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::{
    Dataplane, DataplaneError, Firewall, HostObject, HostRoute, ProxyNeighbour, SandboxAddresses,
};
use wharf_netlink::netns::{run_in_netns, run_in_new_netns};
use wharf_netlink::{Family, Netlink, Route, VethPair};

use ipnet::IpNet;
use std::net::IpAddr;
use support::*;

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn two_ipv4_endpoints_on_one_gateway_reach_each_other_and_the_host() {
    in_test_host(|dataplane| {
        dataplane.firewall.ensure_forwarding(false).unwrap();
        let network = routed_network(&[("10.46.0.0/16", "10.46.0.1")]);
        let a = routed_endpoint("a1", &["10.46.1.7/16"]);
        let b = routed_endpoint("b1", &["10.46.1.8/16"]);
        let (objects_a, join_a) = routed_plan(&network, &a);
        let (objects_b, join_b) = routed_plan(&network, &b);
        dataplane.make(&objects_a).unwrap();
        dataplane.make(&objects_b).unwrap();
        assert_eq!(sysctl("net/ipv4/conf/wh00000000a1/proxy_arp"), "1");
        assert_eq!(sysctl("net/ipv4/neigh/wh00000000a1/proxy_delay"), "0");

        let container_a = NamedNetns::new("a");
        let container_b = NamedNetns::new("b");
        container_a.adopt_as_docker("wc00000000a1", &["10.46.1.7/16"], &join_a);
        container_b.adopt_as_docker("wc00000000b1", &["10.46.1.8/16"], &join_b);

        assert!(container_a.pings("10.46.1.8"), "A -> B");
        assert!(container_b.pings("10.46.1.7"), "B -> A");
        assert!(container_a.pings("10.46.0.1"), "A -> gateway");
        assert!(container_b.pings("10.46.0.1"), "B -> gateway");
        assert!(host_pings("10.46.1.7"), "host -> A");
        assert!(host_pings("10.46.1.8"), "host -> B");

        // The shared gateway address lives on per link: removing A keeps B working.
        dataplane.remove(&objects_a, &|_| false).unwrap();
        assert!(!host_pings_once("10.46.1.7"), "A is gone");
        assert!(container_b.pings("10.46.0.1"), "B -> gateway after A left");
        assert!(host_pings("10.46.1.8"), "host -> B after A left");
        dataplane
            .remove(&objects_a, &|_| false)
            .expect("removing what is gone is success");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn failed_setup_leaves_no_link_behind() {
    in_test_host(|dataplane| {
        let mut netlink = Netlink::open().unwrap();
        let network = routed_network(&[("10.46.0.0/16", "10.46.0.1")]);

        // The kernel refuses a destination with host bits beyond its prefix length.
        let (mut bad_route, _) = routed_plan(&network, &routed_endpoint("c1", &["10.46.1.7/16"]));
        for object in &mut bad_route {
            if let HostObject::Route(route) = object {
                route.destination = "10.46.1.7/16".parse().unwrap();
            }
        }
        let error = dataplane.make(&bad_route).unwrap_err();
        let DataplaneError::Kernel {
            what,
            errno,
            message,
        } = &error
        else {
            panic!("expected a kernel error, got {error}");
        };
        assert_eq!(what, "add route 10.46.1.7/16 dev wh00000000c1");
        assert_eq!(*errno, Some(libc::EINVAL));
        assert!(
            message.contains("Invalid argument: "),
            "extack text: {message}"
        );
        assert_eq!(netlink.link_by_name("wh00000000c1").unwrap(), None);
        assert_eq!(netlink.link_by_name("wc00000000c1").unwrap(), None);

        // A route on a device that does not exist: our own error, same undo.
        let (mut missing_device, _) =
            routed_plan(&network, &routed_endpoint("c2", &["10.46.1.8/16"]));
        for object in &mut missing_device {
            if let HostObject::Route(route) = object {
                route.device = "whmissing".into();
            }
        }
        let error = dataplane.make(&missing_device).unwrap_err();
        assert!(
            error.to_string().contains("no device named whmissing"),
            "{error}"
        );
        assert_eq!(error.errno(), Some(libc::ENODEV));
        assert_eq!(netlink.link_by_name("wh00000000c2").unwrap(), None);

        // A name already taken: the error names the pair, and the existing link is not ours
        // to delete.
        let existing = VethPair {
            name: "wh00000000c3".into(),
            peer_name: "other00c3".into(),
            mtu: 1500,
            alias: Some("someone else".into()),
            peer_mac: None,
            up: false,
        };
        netlink.create_veth(&existing).unwrap();
        let (taken, _) = routed_plan(&network, &routed_endpoint("c3", &["10.46.1.9/16"]));
        let error = dataplane.make(&taken).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("create veth pair wh00000000c3 / wc00000000c3: File exists"),
            "{error}"
        );
        assert!(error.is_exists());
        let survivor = netlink
            .link_by_name("wh00000000c3")
            .unwrap()
            .expect("still there");
        assert_eq!(survivor.alias.as_deref(), Some("someone else"));
        assert_eq!(netlink.link_by_name("wc00000000c3").unwrap(), None);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn configure_sandbox_waits_for_the_link_and_adds_addresses() {
    in_test_host(|dataplane| {
        let sandbox = NamedNetns::new("sandbox");
        let mut netlink = Netlink::open().unwrap();
        let mac = [0x02, 0x57, 0, 0, 0, 0xd4];
        netlink
            .create_veth(&VethPair {
                name: "wh00000000d4".into(),
                peer_name: "wc00000000d4".into(),
                mtu: 1500,
                alias: None,
                peer_mac: Some(mac),
                up: true,
            })
            .unwrap();
        let request = SandboxAddresses {
            netns_path: sandbox.path(),
            mac,
            with_address: None,
            addresses: vec![
                "10.46.1.9/32".parse().unwrap(),
                "fd4e:1::9/128".parse().unwrap(),
            ],
            timeout: Duration::from_secs(5),
        };
        let started = Instant::now();
        let waited = thread::scope(|scope| {
            let configuring = scope.spawn(|| {
                dataplane
                    .sandbox
                    .configure_sandbox(&request)
                    .map(|()| started.elapsed())
            });
            // Docker moves the link in only after the call has started.
            thread::sleep(Duration::from_millis(50));
            run(
                "ip",
                &["link", "set", "wc00000000d4", "netns", &sandbox.name],
            );
            configuring.join().expect("configure thread")
        })
        .unwrap();
        assert!(
            waited >= Duration::from_millis(50),
            "returned after {waited:?}"
        );

        let mut inside = Netlink::open_in_netns(&sandbox.path()).unwrap();
        let link = inside
            .links()
            .unwrap()
            .into_iter()
            .find(|l| l.mac == Some(mac))
            .unwrap();
        let addresses = inside.addresses(Some(link.index)).unwrap();
        let listed: Vec<(String, u8)> = addresses
            .iter()
            .map(|a| (a.address.to_string(), a.prefix_len))
            .collect();
        assert!(listed.contains(&("10.46.1.9".into(), 32)), "{listed:?}");
        assert!(listed.contains(&("fd4e:1::9".into(), 128)), "{listed:?}");
        // Addresses already present are success.
        dataplane.sandbox.configure_sandbox(&request).unwrap();

        let absent = SandboxAddresses {
            mac: [0x02, 0x57, 0, 0, 0, 0xee],
            timeout: Duration::from_millis(100),
            ..request
        };
        match dataplane.sandbox.configure_sandbox(&absent) {
            Err(DataplaneError::Timeout { what, .. }) => {
                assert!(what.contains("02:57:00:00:00:ee"), "{what}")
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn owned_links_routes_and_used_prefixes_are_read_back() {
    in_test_host(|dataplane| {
        let network =
            routed_network(&[("10.46.0.0/16", "10.46.0.1"), ("fd4e:1::/64", "fd4e:1::1")]);
        let endpoint = routed_endpoint("e5", &["10.46.1.7/16", "fd4e:1::7/64"]);
        let (objects, _) = routed_plan(&network, &endpoint);
        dataplane.make(&objects).unwrap();
        let mut netlink = Netlink::open().unwrap();
        let host = netlink.link_by_name("wh00000000e5").unwrap().unwrap();
        let static_route = Route::connected(ip("198.51.100.0"), 24, host.index, 4);
        netlink.add_route(&static_route).unwrap();
        let default_route = Route::connected(ip("0.0.0.0"), 0, host.index, 4);
        netlink.add_route(&default_route).unwrap();

        let owned = dataplane.links.owned_links().unwrap();
        assert_eq!(owned.len(), 1);
        assert_eq!(owned[0].name, "wh00000000e5");
        assert_eq!(owned[0].alias, format!("wharf:{}", endpoint.id));
        let planned: Vec<HostRoute> = objects
            .iter()
            .filter_map(|o| match o {
                HostObject::Route(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        let mut planned_sorted = planned.clone();
        planned_sorted.sort();
        assert_eq!(dataplane.routes.owned_routes().unwrap(), planned_sorted);
        let used = dataplane.routes.used_prefixes().unwrap();
        assert!(
            used.contains(&"198.51.100.0/24".parse().unwrap()),
            "{used:?}"
        );
        assert!(used.iter().all(|p| p.prefix_len() > 0), "{used:?}");
        assert!(
            !used
                .iter()
                .any(|p| p.addr().to_string().starts_with("fe80")),
            "{used:?}"
        );
        // The gateway addresses are /32 and /128 without a prefix route of their own.
        let addresses = netlink.addresses(Some(host.index)).unwrap();
        let listed: Vec<(String, u8)> = addresses
            .iter()
            .map(|a| (a.address.to_string(), a.prefix_len))
            .collect();
        assert!(listed.contains(&("10.46.0.1".into(), 32)), "{listed:?}");
        assert!(listed.contains(&("fd4e:1::1".into(), 128)), "{listed:?}");
        assert!(
            !used.contains(&"fd4e:1::1/128".parse().unwrap()),
            "{used:?}"
        );

        // ensure/remove are idempotent; removing from a missing device is success.
        let extra = vec![HostRoute {
            destination: "10.46.1.50/32".parse().unwrap(),
            device: "wh00000000e5".into(),
            source: None,
        }];
        dataplane.routes.ensure_routes(&extra).unwrap();
        dataplane.routes.ensure_routes(&extra).unwrap();
        assert!(dataplane.routes.owned_routes().unwrap().contains(&extra[0]));
        dataplane.routes.remove_routes(&extra).unwrap();
        dataplane.routes.remove_routes(&extra).unwrap();
        assert!(!dataplane.routes.owned_routes().unwrap().contains(&extra[0]));
        let elsewhere = vec![HostRoute {
            device: "whgone".into(),
            ..extra[0].clone()
        }];
        dataplane.routes.remove_routes(&elsewhere).unwrap();
        let error = dataplane.routes.ensure_routes(&elsewhere).unwrap_err();
        assert_eq!(
            error.to_string(),
            "add route 10.46.1.50/32 dev whgone: no device named whgone"
        );

        // Many routes at once go in one batch, and are all there.
        let many: Vec<HostRoute> = (0..500u32)
            .map(|i| HostRoute {
                destination: IpNet::from(IpAddr::from(std::net::Ipv4Addr::from(
                    u32::from(std::net::Ipv4Addr::new(10, 46, 100, 0)) + i,
                ))),
                device: "wh00000000e5".into(),
                source: None,
            })
            .collect();
        dataplane.routes.ensure_routes(&many).unwrap();
        let owned = dataplane.routes.owned_routes().unwrap();
        assert!(many.iter().all(|r| owned.contains(r)));
        dataplane.routes.remove_routes(&many).unwrap();
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn proxy_ndp_entries_of_an_earlier_version_are_found_and_removed() {
    in_test_host(|dataplane| {
        let network = routed_network(&[("fd4e:1::/64", "fd4e:1::1")]);
        let (objects, _) = routed_plan(&network, &routed_endpoint("e6", &["fd4e:1::6/64"]));
        dataplane.make(&objects).unwrap();
        let mut netlink = Netlink::open().unwrap();
        let host = netlink.link_by_name("wh00000000e6").unwrap().unwrap();
        for address in ["fd4e:1::b", "fd4e:1::c"] {
            netlink
                .add_proxy_neighbour(host.index, ip(address))
                .unwrap();
        }
        let links = ["wh00000000e6".to_string(), "whother".to_string()];
        let mut found = dataplane.neighbours.proxy_entries(&links).unwrap();
        found.sort();
        let expected: Vec<ProxyNeighbour> = ["fd4e:1::b", "fd4e:1::c"]
            .iter()
            .map(|a| ProxyNeighbour {
                address: ip(a),
                device: "wh00000000e6".into(),
            })
            .collect();
        assert_eq!(found, expected);
        assert_eq!(
            dataplane
                .neighbours
                .proxy_entries(&["whother".into()])
                .unwrap(),
            []
        );
        dataplane.neighbours.remove_proxy_entries(&found).unwrap();
        dataplane.neighbours.remove_proxy_entries(&found).unwrap();
        assert_eq!(netlink.proxy_neighbours(Some(Family::V6)).unwrap(), []);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn two_ipv6_endpoints_reach_each_other_through_the_gateway_without_proxy_ndp() {
    in_test_host(|dataplane| {
        dataplane.firewall.ensure_forwarding(true).unwrap();
        let network = routed_network(&[("fd4e:1::/64", "fd4e:1::1")]);
        let a = routed_endpoint("a6", &["fd4e:1::a/64"]);
        let b = routed_endpoint("b6", &["fd4e:1::b/64"]);
        let (objects_a, join_a) = routed_plan(&network, &a);
        let (objects_b, join_b) = routed_plan(&network, &b);
        dataplane.make(&objects_a).unwrap();
        dataplane.make(&objects_b).unwrap();
        assert_eq!(sysctl("net/ipv6/conf/wh00000000a6/accept_dad"), "0");

        let container_a = NamedNetns::new("a6");
        let container_b = NamedNetns::new("b6");
        container_a.adopt_as_docker("wc00000000a6", &["fd4e:1::a/64"], &join_a);
        container_b.adopt_as_docker("wc00000000b6", &["fd4e:1::b/64"], &join_b);
        let routes = container_a.output("ip -6 route show");
        assert!(routes.contains("fd4e:1::/65 via fd4e:1::1"), "{routes}");

        assert!(container_a.pings("fd4e:1::b"), "A -> B");
        assert!(container_b.pings("fd4e:1::a"), "B -> A");
        assert!(container_a.pings("fd4e:1::1"), "A -> gateway");
        assert!(container_b.pings("fd4e:1::1"), "B -> gateway");
        assert!(host_pings("fd4e:1::a"), "host -> A");
        assert!(host_pings("fd4e:1::b"), "host -> B");
        // No entry per pair of containers: nothing grows with their number.
        let mut netlink = Netlink::open().unwrap();
        assert_eq!(netlink.proxy_neighbours(Some(Family::V6)).unwrap(), []);

        // One host end vanishing does not stop the others.
        dataplane.links.delete_link("wh00000000a6").unwrap();
        let c = routed_endpoint("c6", &["fd4e:1::c/64"]);
        let (objects_c, join_c) = routed_plan(&network, &c);
        dataplane.make(&objects_c).unwrap();
        let container_c = NamedNetns::new("c6");
        container_c.adopt_as_docker("wc00000000c6", &["fd4e:1::c/64"], &join_c);
        assert!(container_c.pings("fd4e:1::b"), "C -> B");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn forwarding_rules_come_after_the_operators_and_only_where_dockerd_drops() {
    assert!(
        std::path::Path::new("/usr/sbin/iptables").exists(),
        "this test needs iptables (apt-get install -y iptables)"
    );
    let namespace = NamedNetns::new("fw");
    let forward = |tool: &str| namespace.output(&format!("{tool} -w -S FORWARD"));
    let count = |tool: &str| {
        forward(tool)
            .lines()
            .filter(|line| line.contains("--comment wharf") && line.contains("wh+"))
            .count()
    };
    // iptables runs as a child of the calling thread and so acts on that thread's namespace:
    // the rules must show up in the named namespace, seen from a process entering it by path.
    let ensure = || {
        run_in_netns(&namespace.path(), || {
            let dataplane = LinuxDataplane::new(LinuxConfig::default()).unwrap();
            dataplane.ensure_forwarding(true).unwrap();
        })
        .unwrap()
    };
    // No dockerd (no DROP policy, no DOCKER-USER): forwarding on, nothing added.
    ensure();
    assert_eq!((count("iptables"), count("ip6tables")), (0, 0));
    assert_eq!(
        namespace.output("cat /proc/sys/net/ipv4/ip_forward").trim(),
        "1"
    );
    assert_eq!(
        namespace
            .output("cat /proc/sys/net/ipv6/conf/all/forwarding")
            .trim(),
        "1"
    );

    // dockerd's iptables firewall: DROP, and the jump to DOCKER-USER first. An earlier wharf
    // left its IPv4 rules above that jump.
    for tool in ["iptables", "ip6tables"] {
        namespace.run(&format!("{tool} -w -P FORWARD DROP"));
        namespace.run(&format!("{tool} -w -N DOCKER-USER"));
        namespace.run(&format!("{tool} -w -A FORWARD -j DOCKER-USER"));
    }
    namespace.run("iptables -w -I FORWARD 1 -i wh+ -m comment --comment wharf -j ACCEPT");
    ensure();
    assert_eq!((count("iptables"), count("ip6tables")), (2, 2));
    for tool in ["iptables", "ip6tables"] {
        let rules: Vec<String> = forward(tool).lines().map(String::from).collect();
        let at = |wanted: &str| rules.iter().position(|l| l == wanted);
        let jump = at("-A FORWARD -j DOCKER-USER").expect("the jump");
        for direction in ["-i", "-o"] {
            let ours = at(&format!(
                "-A FORWARD {direction} wh+ -m comment --comment wharf -j ACCEPT"
            ));
            assert!(ours.is_some_and(|ours| ours > jump), "{tool}: {rules:?}");
        }
    }
    // Again: nothing changes.
    let before = (forward("iptables"), forward("ip6tables"));
    ensure();
    assert_eq!((forward("iptables"), forward("ip6tables")), before);

    // Someone else's rule stays.
    namespace.run("iptables -w -A FORWARD -i eth9 -j ACCEPT");
    run_in_netns(&namespace.path(), || {
        let dataplane = LinuxDataplane::new(LinuxConfig::default()).unwrap();
        dataplane.release_forwarding().unwrap();
        dataplane.release_forwarding().unwrap();
    })
    .unwrap();
    assert_eq!((count("iptables"), count("ip6tables")), (0, 0));
    assert!(forward("iptables").contains("-i eth9"));
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn configure_sandbox_waits_for_a_namespace_that_does_not_exist_yet() {
    // `docker start`: Join arrives before Docker has made the sandbox's namespace.
    in_test_host(|dataplane| {
        let name = NamedNetns::unique_name("late");
        let mac = [0x02, 0x57, 0, 0, 0, 0xd5];
        let request = SandboxAddresses {
            netns_path: PathBuf::from(format!("/run/netns/{name}")),
            mac,
            with_address: None,
            addresses: vec!["10.46.1.10/32".parse().unwrap()],
            // A deadline, not a wait: the call returns as soon as the link shows up. Generous
            // because the lab's emulated CPU makes namespaces and links slowly.
            timeout: Duration::from_secs(60),
        };
        let sandbox = thread::scope(|scope| {
            let configuring = scope.spawn(|| dataplane.sandbox.configure_sandbox(&request));
            thread::sleep(Duration::from_millis(100));
            // The call must be waiting for the namespace, not have failed or given up.
            assert!(
                !configuring.is_finished(),
                "configure_sandbox returned before the namespace existed"
            );
            let sandbox = NamedNetns::create(name.clone());
            let mut netlink = Netlink::open().unwrap();
            netlink
                .create_veth(&VethPair {
                    name: "wh00000000d5".into(),
                    peer_name: "wc00000000d5".into(),
                    mtu: 1500,
                    alias: None,
                    peer_mac: Some(mac),
                    up: true,
                })
                .unwrap();
            run(
                "ip",
                &["link", "set", "wc00000000d5", "netns", &sandbox.name],
            );
            configuring.join().expect("configure thread").unwrap();
            sandbox
        });
        let shown = sandbox.output("ip -4 addr show");
        assert!(shown.contains("10.46.1.10/32"), "{shown}");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn configure_sandbox_tells_links_with_one_mac_apart_by_address() {
    in_test_host(|dataplane| {
        // Two ipvlan links of one NIC's VLANs share its MAC; here two veth ends stand for them.
        let sandbox = NamedNetns::new("shared-mac");
        let mut netlink = Netlink::open().unwrap();
        let mac = [0x02, 0x57, 0, 0, 0, 0xd6];
        for tag in ["d6", "d7"] {
            netlink
                .create_veth(&VethPair {
                    name: format!("wh00000000{tag}"),
                    peer_name: format!("wc00000000{tag}"),
                    mtu: 1500,
                    alias: None,
                    peer_mac: Some(mac),
                    up: true,
                })
                .unwrap();
            let link = format!("wc00000000{tag}");
            run("ip", &["link", "set", &link, "netns", &sandbox.name]);
        }
        sandbox.run("ip addr add 10.50.0.7/24 dev wc00000000d7");
        let request = SandboxAddresses {
            netns_path: sandbox.path(),
            mac,
            with_address: Some(ip("10.50.0.7")),
            addresses: vec!["10.50.0.20/32".parse().unwrap()],
            timeout: Duration::from_secs(5),
        };
        dataplane.sandbox.configure_sandbox(&request).unwrap();
        let d7 = sandbox.output("ip -4 addr show dev wc00000000d7");
        let d6 = sandbox.output("ip -4 addr show dev wc00000000d6");
        assert!(d7.contains("10.50.0.20/32"), "{d7}");
        assert!(!d6.contains("10.50.0.20"), "{d6}");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_link_replaced_behind_wharfs_back_is_found_again_by_name() {
    in_test_host(|dataplane| {
        let network = routed_network(&[("10.46.0.0/16", "10.46.0.1")]);
        let (objects, _) = routed_plan(&network, &routed_endpoint("f1", &["10.46.1.7/16"]));
        let veth = objects[..1].to_vec();
        dataplane.make(&veth).unwrap();
        // Someone deletes the pair and makes another of the same name: a new index.
        let mut netlink = Netlink::open().unwrap();
        let old = netlink.link_by_name("wh00000000f1").unwrap().unwrap().index;
        netlink.delete_link("wh00000000f1").unwrap();
        let new = netlink
            .create_veth(&VethPair {
                name: "wh00000000f1".into(),
                peer_name: "other00f1".into(),
                mtu: 1500,
                alias: None,
                peer_mac: None,
                up: true,
            })
            .unwrap();
        assert_ne!(old, new);
        // The address and route made right after still land on the link of that name.
        dataplane.make(&objects[1..]).unwrap();
        let addresses = netlink.addresses(Some(new)).unwrap();
        assert!(
            addresses.iter().any(|a| a.address == ip("10.46.0.1")),
            "{addresses:?}"
        );
        let routes = dataplane.routes.owned_routes().unwrap();
        assert!(
            routes.iter().any(|r| r.device == "wh00000000f1"),
            "{routes:?}"
        );
    });
}

/// `ip [-6] rule show` and `ip [-6] route show table all proto 87`, as text.
fn rules_and_routes() -> (String, String) {
    let mut rules = run_ip(&["-4", "rule", "show"]);
    rules.push_str(&run_ip(&["-6", "rule", "show"]));
    let mut routes = run_ip(&["-4", "route", "show", "table", "all", "proto", "87"]);
    routes.push_str(&run_ip(&[
        "-6", "route", "show", "table", "all", "proto", "87",
    ]));
    (rules, routes)
}

fn run_ip(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_route_table_of_the_operators_holds_wharfs_routes_and_a_rule_of_wharfs_consults_it() {
    run_in_new_netns(|| {
        bring_lo_up();
        let in_table = |table: u32| {
            let linux = LinuxDataplane::new(LinuxConfig {
                route_table: table,
                ..LinuxConfig::default()
            })
            .unwrap();
            Dataplane::from_one(std::sync::Arc::new(linux))
        };
        let network =
            routed_network(&[("10.46.0.0/16", "10.46.0.1"), ("fd4e:1::/64", "fd4e:1::1")]);
        let endpoint = routed_endpoint("f7", &["10.46.1.7/16", "fd4e:1::7/64"]);
        let (objects, join) = routed_plan(&network, &endpoint);

        let dataplane = in_table(100);
        assert_eq!(
            dataplane.routes.settle_route_table().unwrap(),
            2,
            "a rule per family"
        );
        dataplane.make(&objects).unwrap();
        let (rules, routes) = rules_and_routes();
        assert_eq!(
            rules
                .matches("30087:\tfrom all lookup 100 proto 87")
                .count(),
            2,
            "{rules}"
        );
        assert!(
            routes.contains("10.46.1.7 dev wh00000000f7 table 100 "),
            "{routes}"
        );
        assert!(
            routes.contains("fd4e:1::7 dev wh00000000f7 table 100 "),
            "{routes}"
        );
        // Metrics stay below 2^24 (FRR's zebra reads the top byte as a distance): the kernel's
        // defaults, 0 (not shown) for IPv4 and 1024 for IPv6.
        let (v4, v6) = routes.split_once('\n').unwrap_or_default();
        assert!(!v4.contains("metric"), "{routes}");
        assert!(v6.contains(" metric 1024 "), "{routes}");
        assert!(!run_ip(&["route", "show", "table", "main"]).contains("10.46.1.7"));
        assert_eq!(dataplane.routes.owned_routes().unwrap().len(), 2);
        assert_eq!(dataplane.routes.settle_route_table().unwrap(), 0, "settled");

        // The rule has the kernel find the container: the host reaches it.
        let container = NamedNetns::new("tbl");
        container.adopt_as_docker("wc00000000f7", &["10.46.1.7/16"], &join);
        assert!(
            host_pings("10.46.1.7"),
            "host -> container through table 100"
        );

        // A restart with another table moves everything: routes of the old table and its rule
        // go (reconciliation then adds the routes to the new table).
        let elsewhere = in_table(70000);
        assert_eq!(elsewhere.routes.settle_route_table().unwrap(), 2 + 2 + 2);
        assert!(elsewhere.routes.owned_routes().unwrap().is_empty());
        let (rules, routes) = rules_and_routes();
        assert!(!rules.contains("lookup 100 "), "{rules}");
        assert_eq!(rules.matches("lookup 70000 proto 87").count(), 2, "{rules}");
        assert!(routes.is_empty(), "{routes}");

        // Back to main: no rule of wharf's stays, and a rule of someone else's is left alone.
        let foreign = wharf_netlink::Rule::lookup(Family::V4, 30088, 70000, 4);
        Netlink::open().unwrap().add_rule(&foreign).unwrap();
        let main = in_table(254);
        assert_eq!(main.routes.settle_route_table().unwrap(), 2);
        let (rules, _) = rules_and_routes();
        assert!(!rules.contains("proto 87"), "{rules}");
        assert!(
            rules.contains("30088:\tfrom all lookup 70000 proto static"),
            "{rules}"
        );
    })
    .expect("run in a new network namespace");
}

/// A routed endpoint (10.46.1.7, both ends up) whose host end is also on 198.51.100.0/24,
/// where a routing daemon's neighbour 198.51.100.12 would be: its objects and host end.
fn endpoint_beside_a_router(
    dataplane: &Dataplane,
    netlink: &mut Netlink,
    id: &str,
) -> (Vec<HostObject>, wharf_netlink::Link) {
    let network = routed_network(&[("10.46.0.0/16", "10.46.0.1")]);
    let (objects, _) = routed_plan(&network, &routed_endpoint(id, &["10.46.1.7/16"]));
    dataplane.make(&objects).unwrap();
    for end in ["wh", "wc"] {
        let link = netlink
            .link_by_name(&format!("{end}00000000{id}"))
            .unwrap()
            .unwrap();
        netlink.set_link_up(link.index).unwrap();
    }
    let wh = netlink
        .link_by_name(&format!("wh00000000{id}"))
        .unwrap()
        .unwrap();
    netlink
        .add_address(wh.index, ip("198.51.100.1"), 24, Default::default())
        .unwrap();
    (objects, wh)
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn route_listeners_and_routes_of_others_into_wharfs_subnets_are_found() {
    in_test_host(|dataplane| {
        let mut netlink = Netlink::open().unwrap();
        let (_, wh) = endpoint_beside_a_router(dataplane, &mut netlink, "d4");
        // What a daemon installs: OSPF (188) by gateway, BGP (186) through a nexthop object,
        // and, outside wharf's subnets, a static route that is no business of the report.
        let ospf = Route {
            protocol: 188,
            ..Route::via(ip("10.46.2.1"), 32, ip("198.51.100.12"), Some(wh.index))
        };
        netlink.add_route(&ospf).unwrap();
        let object = wharf_netlink::Nexthop {
            id: 4242,
            protocol: 186,
            target: wharf_netlink::NexthopTarget::Gateway {
                gateway: ip("198.51.100.13"),
                oif: wh.index,
            },
        };
        netlink.add_nexthop(&object).unwrap();
        netlink
            .add_route(&Route::with_nexthop(ip("10.46.3.0"), 24, 4242, 186))
            .unwrap();
        netlink
            .add_route(&Route {
                protocol: 4,
                ..Route::via(ip("198.18.0.0"), 24, ip("198.51.100.12"), Some(wh.index))
            })
            .unwrap();

        let within: Vec<IpNet> = vec!["10.46.0.0/16".parse().unwrap()];
        let found = dataplane.routes.foreign_routes(&within).unwrap();
        let seen: Vec<(String, Option<IpAddr>, Option<&str>, u8)> = found
            .iter()
            .map(|r| {
                (
                    r.destination.to_string(),
                    r.via,
                    r.device.as_deref(),
                    r.protocol,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "10.46.2.1/32".into(),
                    Some(ip("198.51.100.12")),
                    Some("wh00000000d4"),
                    188
                ),
                (
                    "10.46.3.0/24".into(),
                    Some(ip("198.51.100.13")),
                    Some("wh00000000d4"),
                    186
                ),
            ],
            "wharf's own 10.46.1.7/32 and the connected routes are not others'"
        );

        // No listener yet (this process is not counted); then `ip monitor route`.
        assert_eq!(dataplane.routes.route_readers().unwrap(), []);
        let mut monitor = std::process::Command::new("ip")
            .args(["monitor", "route"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let readers = loop {
            let readers = dataplane.routes.route_readers().unwrap();
            if !readers.is_empty() || Instant::now() > deadline {
                break readers;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let _ = monitor.kill();
        let _ = monitor.wait();
        assert_eq!(readers.len(), 1, "{readers:?}");
        assert_eq!(readers[0].pid, monitor.id());
        assert_eq!(readers[0].program, "ip");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn host_routes_of_a_routing_daemon_are_watched_as_other_hosts_containers() {
    use wharf::dataplane::RemoteHostChange;
    in_test_host(|dataplane| {
        let mut netlink = Netlink::open().unwrap();
        let (objects, wh) = endpoint_beside_a_router(dataplane, &mut netlink, "d5");
        let ospf = |address: &str| Route {
            protocol: 188,
            metric: Some(20),
            ..Route::via(ip(address), 32, ip("198.51.100.12"), Some(wh.index))
        };
        netlink.add_route(&ospf("10.46.2.1")).unwrap();

        let (sender, changes) = std::sync::mpsc::channel();
        dataplane.routes.watch_remote_hosts(Box::new(move |change| {
            let _ = sender.send(change);
        }));
        let next = || changes.recv_timeout(Duration::from_secs(5)).unwrap();
        // The table first: the daemon's /32, not wharf's own container's.
        assert_eq!(next(), RemoteHostChange::All(vec![ip("10.46.2.1")]));
        netlink.add_route(&ospf("10.46.3.1")).unwrap();
        assert_eq!(next(), RemoteHostChange::Added(ip("10.46.3.1")));
        netlink.delete_route(&ospf("10.46.2.1")).unwrap();
        assert_eq!(next(), RemoteHostChange::Removed(ip("10.46.2.1")));
        netlink.delete_route(&ospf("10.46.3.1")).unwrap();
        assert_eq!(next(), RemoteHostChange::Removed(ip("10.46.3.1")));
        // wharf's own routes come and go unseen.
        let again = HostRoute {
            destination: "10.46.9.9/32".parse().unwrap(),
            device: "wh00000000d5".into(),
            source: None,
        };
        dataplane.routes.ensure_routes(&[again]).unwrap();
        dataplane.remove(&objects, &|_| false).unwrap();
        assert!(changes.recv_timeout(Duration::from_millis(300)).is_err());
    });
}
