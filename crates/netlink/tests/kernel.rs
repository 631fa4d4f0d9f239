//! The client against the real kernel, each test in a throwaway network namespace.
//! Needs root: `cargo test -- --include-ignored`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use wharf_netlink::consts::{RTN_UNICAST, RTPROT_STATIC, RT_SCOPE_LINK};
use wharf_netlink::netns::run_in_new_netns;
use wharf_netlink::{AddressOptions, Error, Family, Netlink, Route, VethPair};

/// Runs `test` in a new network namespace with `lo` up.
fn in_new_netns(test: impl FnOnce(&mut Netlink) + Send) {
    run_in_new_netns(|| {
        let mut netlink = Netlink::open().expect("open netlink");
        let lo = netlink
            .link_by_name("lo")
            .expect("find lo")
            .expect("lo exists");
        netlink.set_link_up(lo.index).expect("lo up");
        test(&mut netlink);
    })
    .expect("run in a new network namespace");
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn veth(name: &str, peer: &str) -> VethPair {
    VethPair {
        name: name.into(),
        peer_name: peer.into(),
        mtu: 1400,
        alias: Some(format!("wharf:{name}")),
        peer_mac: Some([0x02, 0x57, 0, 0, 0, 0x01]),
        up: true,
    }
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn veth_pair_is_created_in_one_call_listed_and_deleted() {
    in_new_netns(|nl| {
        let index = nl
            .create_veth(&veth("wh0000000001", "wc0000000001"))
            .unwrap();
        let links = nl.links().unwrap();
        let host = links
            .iter()
            .find(|l| l.name == "wh0000000001")
            .expect("host end listed");
        assert_eq!(host.index, index);
        assert_eq!(host.alias.as_deref(), Some("wharf:wh0000000001"));
        assert_eq!(
            (host.mtu, host.up, host.kind.as_deref()),
            (1400, true, Some("veth"))
        );
        let peer = links
            .iter()
            .find(|l| l.name == "wc0000000001")
            .expect("peer listed");
        assert_eq!(peer.mac, Some([0x02, 0x57, 0, 0, 0, 0x01]));
        assert_eq!((peer.mtu, peer.up), (1400, false));
        assert_eq!(
            nl.link_by_name("wc0000000001").unwrap().as_ref(),
            Some(peer)
        );

        nl.delete_link("wh0000000001").unwrap();
        assert_eq!(nl.link_by_name("wh0000000001").unwrap(), None);
        assert_eq!(
            nl.link_by_name("wc0000000001").unwrap(),
            None,
            "peer goes too"
        );
        nl.delete_link("wh0000000001")
            .expect("deleting a missing link is success");
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn existing_name_and_overlong_name_are_clear_errors() {
    in_new_netns(|nl| {
        nl.create_veth(&veth("wh0000000002", "wc0000000002"))
            .unwrap();
        let error = nl
            .create_veth(&veth("wh0000000002", "wc0000000003"))
            .unwrap_err();
        assert_eq!(error.errno(), Some(libc::EEXIST), "{error}");
        let error = nl
            .create_veth(&veth("wh0123456789abcdef", "wc0"))
            .unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{error}");
        assert!(
            error.to_string().contains("longer than 15 bytes"),
            "{error}"
        );
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn kernel_errors_carry_the_extended_ack_text() {
    in_new_netns(|nl| {
        let lo = nl.link_by_name("lo").unwrap().unwrap();
        // Host bits set beyond the prefix length: the kernel explains why it says EINVAL.
        let route = Route::connected(ip("10.46.1.7"), 16, lo.index, 87);
        let error = nl.add_route(&route).unwrap_err();
        assert_eq!(error.errno(), Some(libc::EINVAL));
        assert!(
            error.to_string().contains("prefix"),
            "no extack text in: {error}"
        );
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn addresses_routes_and_proxy_neighbours_are_idempotent() {
    in_new_netns(|nl| {
        let index = nl
            .create_veth(&veth("wh0000000004", "wc0000000004"))
            .unwrap();
        let nodad = AddressOptions {
            nodad: true,
            no_prefix_route: true,
        };
        for _ in 0..2 {
            nl.add_address(index, ip("10.46.0.1"), 32, AddressOptions::default())
                .unwrap();
            nl.add_address(index, ip("fd4e:1::1"), 128, nodad).unwrap();
        }
        let addresses = nl.addresses(Some(index)).unwrap();
        assert!(addresses
            .iter()
            .any(|a| a.address == ip("10.46.0.1") && a.prefix_len == 32));
        let v6 = addresses
            .iter()
            .find(|a| a.address == ip("fd4e:1::1"))
            .expect("v6 listed");
        assert_eq!(v6.prefix_len, 128);
        assert_ne!(v6.flags & 0x02, 0, "IFA_F_NODAD");

        let route = Route::connected(ip("10.46.1.7"), 32, index, 87);
        nl.add_route(&route).unwrap();
        nl.add_route(&route).unwrap();
        let v6_route = Route::connected(ip("fd4e:1::7"), 128, index, 87);
        nl.add_route(&v6_route).unwrap();
        let routes = nl.routes(Family::V4).unwrap();
        let found: Vec<_> = routes
            .iter()
            .filter(|r| r.destination == ip("10.46.1.7"))
            .collect();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].oif,
                found[0].protocol,
                found[0].scope,
                found[0].table,
                found[0].kind
            ),
            (Some(index), 87, RT_SCOPE_LINK, 254, RTN_UNICAST)
        );
        // IPv6 has no route scopes: the kernel lists every route as "universe".
        let v6_routes = nl.routes(Family::V6).unwrap();
        let listed = v6_routes
            .iter()
            .find(|r| r.destination == ip("fd4e:1::7"))
            .expect("v6");
        assert_eq!(
            (listed.prefix_len, listed.oif, listed.protocol),
            (128, Some(index), 87)
        );
        // A delete that names another protocol leaves the route alone.
        let other = Route {
            protocol: RTPROT_STATIC,
            ..route.clone()
        };
        nl.delete_route(&other).unwrap();
        assert!(nl.routes(Family::V4).unwrap().iter().any(|r| r == &route));
        nl.delete_route(&route).unwrap();
        nl.delete_route(&route)
            .expect("deleting a missing route is success");
        nl.delete_route(&v6_route).unwrap();
        nl.delete_route(&v6_route)
            .expect("deleting a missing IPv6 route is success");

        // A preferred source (`src`) must be a local address; it is listed back.
        let sourced = Route {
            source: Some(ip("10.46.0.1")),
            ..Route::connected(ip("10.46.1.9"), 32, index, 87)
        };
        nl.add_route(&sourced).unwrap();
        let listed = nl.routes(Family::V4).unwrap();
        assert!(listed.iter().any(|r| r == &sourced), "{listed:?}");
        nl.delete_route(&sourced).unwrap();

        for _ in 0..2 {
            nl.add_proxy_neighbour(index, ip("fd4e:1::b")).unwrap();
        }
        let listed = std::process::Command::new("ip")
            .args(["-6", "neigh", "show", "proxy"])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(listed.contains("fd4e:1::b dev wh0000000004"), "{listed}");
        let dumped = nl.proxy_neighbours(Some(Family::V6)).unwrap();
        assert_eq!(
            dumped,
            [wharf_netlink::ProxyNeighbour {
                index,
                address: ip("fd4e:1::b")
            }]
        );
        for _ in 0..2 {
            nl.delete_proxy_neighbour(index, ip("fd4e:1::b")).unwrap();
        }
        assert_eq!(nl.proxy_neighbours(Some(Family::V6)).unwrap(), []);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn ten_thousand_routes_install_in_one_batch() {
    in_new_netns(|nl| {
        let index = nl
            .create_veth(&veth("wh0000000005", "wc0000000005"))
            .unwrap();
        let routes: Vec<Route> = (0..10_000u32)
            .map(|i| {
                let address = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 0)) + i);
                Route::connected(IpAddr::V4(address), 32, index, 87)
            })
            .collect();
        let started = Instant::now();
        let report = nl.add_routes_batch(&routes).unwrap();
        let elapsed = started.elapsed();
        println!(
            "add_routes_batch: {} /32 routes in {:.1} ms ({:.0} routes/s)",
            routes.len(),
            elapsed.as_secs_f64() * 1e3,
            routes.len() as f64 / elapsed.as_secs_f64()
        );
        assert_eq!(
            (report.sent, report.failed, report.first_failure),
            (10_000, 0, None)
        );
        let installed = nl.routes(Family::V4).unwrap();
        let ours = installed
            .iter()
            .filter(|r| r.protocol == 87 && r.oif == Some(index))
            .count();
        assert_eq!(ours, 10_000);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn batch_reports_the_routes_the_kernel_refused() {
    in_new_netns(|nl| {
        let index = nl
            .create_veth(&veth("wh0000000006", "wc0000000006"))
            .unwrap();
        let mut routes: Vec<Route> = (1..=600u32)
            .map(|i| Route::connected(IpAddr::V4(Ipv4Addr::from(0x0a65_0000 + i)), 32, index, 87))
            .collect();
        // Host bits beyond the prefix: refused, at positions 300 and 599 (the last, ACKed one).
        routes[300].prefix_len = 16;
        routes[599].prefix_len = 8;
        let report = nl.add_routes_batch(&routes).unwrap();
        assert_eq!((report.sent, report.failed), (600, 2));
        let failure = report.first_failure.expect("first failure");
        assert_eq!((failure.index, failure.errno), (300, libc::EINVAL));
        assert!(failure.message.contains("prefix"), "{}", failure.message);
        let ours = nl
            .routes(Family::V4)
            .unwrap()
            .iter()
            .filter(|r| r.protocol == 87)
            .count();
        assert_eq!(ours, 598);
        // The socket is still in step: an ordinary request works.
        nl.add_route(&Route::connected(ip("10.102.0.1"), 32, index, 87))
            .unwrap();
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn open_in_netns_sees_that_namespace_only() {
    let name = format!("wharf-test-nl-{}", std::process::id());
    let created = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    assert!(created.success());
    let result = std::panic::catch_unwind(|| {
        in_new_netns(|nl| {
            nl.create_veth(&veth("wh0000000007", "wc0000000007"))
                .unwrap();
            let path = std::path::PathBuf::from(format!("/run/netns/{name}"));
            let mut other = Netlink::open_in_netns(&path).unwrap();
            let names: Vec<String> = other.links().unwrap().into_iter().map(|l| l.name).collect();
            assert_eq!(names, ["lo"]);
            // The calling thread stayed where it was.
            assert!(nl.link_by_name("wh0000000007").unwrap().is_some());
            assert!(Netlink::open_in_netns(std::path::Path::new("/run/netns/absent")).is_err());
        })
    });
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &name])
        .status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn batch_where_every_route_fails_reports_them_all() {
    in_new_netns(|nl| {
        let index = nl
            .create_veth(&veth("wh0000000008", "wc0000000008"))
            .unwrap();
        // Host bits beyond the prefix length in every one: thousands of error replies, which
        // must all be counted without overflowing the socket's receive buffer.
        let routes: Vec<Route> = (1..=5000u32)
            .map(|i| Route::connected(IpAddr::V4(Ipv4Addr::from(0x0a66_0000 + i)), 16, index, 87))
            .collect();
        let report = nl.add_routes_batch(&routes).unwrap();
        assert_eq!((report.sent, report.failed), (5000, 5000));
        assert_eq!(report.first_failure.map(|f| f.index), Some(0));
        nl.add_route(&Route::connected(ip("10.103.0.1"), 32, index, 87))
            .unwrap();
    });
}

/// `ip -d link show NAME`, run from this thread (a child process starts in its namespace).
fn ip_details(name: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["-d", "link", "show", name])
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn macvlan_links_in_every_mode_on_a_veth_parent() {
    use wharf_netlink::{LinkKind, MacvlanMode, NewLink};
    in_new_netns(|netlink| {
        let modes = [
            (MacvlanMode::Bridge, "bridge"),
            (MacvlanMode::Private, "private"),
            (MacvlanMode::Vepa, "vepa"),
            (MacvlanMode::Passthru, "passthru"),
        ];
        for (n, (mode, word)) in modes.into_iter().enumerate() {
            // passthru takes a parent for itself: one parent per mode keeps them apart.
            let parent = netlink
                .create_veth(&veth(&format!("whp{n}"), &format!("wcp{n}")))
                .expect("parent veth");
            let name = format!("whm{n}");
            let mac = [0x02, 0x57, 0, 0, 0x10, n as u8];
            let index = netlink
                .create_link(&NewLink {
                    name: name.clone(),
                    kind: LinkKind::Macvlan(mode),
                    parent: Some(parent),
                    mtu: Some(1400),
                    mac: Some(mac),
                    up: true,
                })
                .unwrap_or_else(|e| panic!("macvlan {word}: {e}"));
            let link = netlink.link_by_name(&name).unwrap().unwrap();
            assert_eq!(link.index, index);
            assert_eq!(link.kind.as_deref(), Some("macvlan"));
            assert_eq!(link.mtu, 1400);
            if mode != MacvlanMode::Passthru {
                // passthru takes over the parent's address; the others keep the one asked for.
                assert_eq!(link.mac, Some(mac));
            }
            let details = ip_details(&name);
            assert!(
                details.contains(&format!("macvlan mode {word}")),
                "{details}"
            );
        }
        // A child MTU above the parent's: the kernel's bare answer, which wharf must explain.
        let parent = netlink.link_by_name("whp0").unwrap().map(|l| l.index);
        let too_big = netlink.create_link(&NewLink {
            name: "whmbig".into(),
            kind: LinkKind::Macvlan(MacvlanMode::Bridge),
            parent,
            mtu: Some(9000),
            mac: None,
            up: false,
        });
        assert_eq!(too_big.unwrap_err().errno(), Some(libc::EINVAL));
        assert!(netlink.link_by_name("whmbig").unwrap().is_none());
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_fresh_namespace_lists_no_routes_rather_than_failing() {
    // No lo up, no address, no route: the kernel has not made the main table yet.
    run_in_new_netns(|| {
        let mut netlink = Netlink::open().expect("open netlink");
        assert_eq!(netlink.routes(Family::V4).unwrap(), []);
        assert_eq!(netlink.routes(Family::V6).unwrap(), []);
    })
    .expect("run in a new network namespace");
}
