//! Proxy neighbour entries listed back from the real kernel, in a throwaway network namespace.
//! Needs root: `cargo test -p wharf-netlink --release -- --include-ignored`.

mod common;

use common::{in_new_netns, ip, ip_command, uplink};
use wharf_netlink::{Family, ProxyNeighbour};

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn proxy_neighbours_are_listed_for_reconciliation() {
    in_new_netns(|nl| {
        let a = uplink(nl, "wha", "10.46.1.2", 24);
        let b = uplink(nl, "whb", "10.46.2.2", 24);
        let entry = |index, address: &str| ProxyNeighbour {
            index,
            address: ip(address),
        };
        let wanted = [
            entry(a, "fd4e:1::b"),
            entry(b, "fd4e:1::c"),
            entry(a, "10.46.1.9"),
        ];
        for proxy in &wanted {
            nl.add_proxy_neighbour(proxy.index, proxy.address).unwrap();
        }
        // An ordinary (non-proxy) neighbour entry must not be listed.
        ip_command(&[
            "neigh",
            "add",
            "10.46.1.7",
            "lladdr",
            "02:00:00:00:00:07",
            "dev",
            "wha",
        ]);

        let mut all = nl.proxy_neighbours(None).unwrap();
        all.sort();
        let mut expected = wanted.to_vec();
        expected.sort();
        assert_eq!(all, expected);
        let mut v6 = nl.proxy_neighbours(Some(Family::V6)).unwrap();
        v6.sort();
        assert_eq!(v6, [entry(a, "fd4e:1::b"), entry(b, "fd4e:1::c")]);

        nl.delete_proxy_neighbour(b, ip("fd4e:1::c")).unwrap();
        let v6 = nl.proxy_neighbours(Some(Family::V6)).unwrap();
        assert_eq!(v6, [entry(a, "fd4e:1::b")]);
        let text = ip_command(&["-6", "neigh", "show", "proxy"]);
        assert!(
            text.contains("fd4e:1::b dev wha") && !text.contains("fd4e:1::c"),
            "{text}"
        );
    });
}
