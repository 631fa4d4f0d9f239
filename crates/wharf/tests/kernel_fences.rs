//! wharf's nftables table against the real kernel: routed networks kept apart, `accept_from`,
//! internal networks, and a table someone changed put right. Each test's "host" is a new
//! network namespace (its thread's); "containers" are named namespaces deleted on drop.
//! Needs root, `ip`, `ping` and `nft`: `cargo test -- --include-ignored`.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use wharf::dataplane::fence::{Accepts, Fence, Fences};
use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::Dataplane;
use wharf::model::Network;

use support::*;

const A: &str = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000";
const C: &str = "cccccccccccc0000000000000000000000000000000000000000000000000000";
const I: &str = "eeeeeeeeeeee0000000000000000000000000000000000000000000000000000";

fn network(id: &str, prefix: &str, gateway: &str, internal: bool) -> Network {
    let mut network = routed_network(&[(prefix, gateway)]);
    network.id = id.into();
    network.internal = internal;
    network
}

/// One container on `network`, attached as Docker would.
fn container(dataplane: &Dataplane, network: &Network, tag: &str, address: &str) -> NamedNetns {
    let endpoint = routed_endpoint(tag, &[address]);
    let (objects, join) = routed_plan(network, &endpoint);
    dataplane.make(&objects).expect("make endpoint");
    let netns = NamedNetns::new(tag);
    netns.adopt_as_docker(&endpoint.container_ifname, &[address], &join);
    netns
}

fn fence(network: &Network, accepts: Accepts) -> Fence {
    Fence {
        prefixes: network.prefixes(),
        internal: network.internal,
        accepts,
    }
}

fn none() -> Accepts {
    Accepts::Networks(BTreeSet::new())
}

fn table() -> String {
    String::from_utf8_lossy(&output("nft", &["list", "table", "inet", "wharf"]).stdout).into_owned()
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn networks_are_apart_unless_one_accepts_the_other_and_internal_ones_stay_inside() {
    in_test_host(|dataplane| {
        dataplane.firewall.ensure_forwarding(false).unwrap();
        let net_a = network(A, "10.81.0.0/24", "10.81.0.1", false);
        let net_c = network(C, "10.83.0.0/24", "10.83.0.1", false);
        let net_i = network(I, "10.85.0.0/24", "10.85.0.1", true);
        let a1 = container(dataplane, &net_a, "a1", "10.81.0.11/24");
        let a2 = container(dataplane, &net_a, "a2", "10.81.0.12/24");
        let c1 = container(dataplane, &net_c, "c1", "10.83.0.11/24");
        let i1 = container(dataplane, &net_i, "e1", "10.85.0.11/24");
        // An internal network's containers get no default route; one is added here so that
        // the fence, not the lack of a route, is what the checks below see.
        i1.run("ip route add default via 10.85.0.1");
        // d is on A and on C, as `docker network connect` makes it.
        let d = container(dataplane, &net_a, "d1", "10.81.0.13/24");
        let second = routed_endpoint("d2", &["10.83.0.13/24"]);
        dataplane.make(&routed_plan(&net_c, &second).0).unwrap();
        run(
            "ip",
            &["link", "set", &second.container_ifname, "netns", &d.name],
        );
        d.run(&format!(
            "ip link set {} name eth1",
            second.container_ifname
        ));
        d.run("ip addr add 10.83.0.13/24 dev eth1");
        d.run("ip link set eth1 up");
        // "Outside": a namespace behind the host that is not a wharf network.
        let outside = NamedNetns::new("out");
        run(
            "ip",
            &[
                "link",
                "add",
                "whtestout",
                "type",
                "veth",
                "peer",
                "name",
                "whtestin",
            ],
        );
        run("ip", &["link", "set", "whtestin", "netns", &outside.name]);
        run(
            "ip",
            &["addr", "add", "198.51.100.1/24", "dev", "whtestout"],
        );
        run("ip", &["link", "set", "whtestout", "up"]);
        outside.run("ip addr add 198.51.100.2/24 dev whtestin");
        outside.run("ip link set whtestin up");
        outside.run("ip route add default via 198.51.100.1");
        assert!(
            outside.pings("10.81.0.11"),
            "without fences everything reaches everything"
        );
        assert!(
            i1.pings("198.51.100.2"),
            "without fences the internal one gets out"
        );
        assert!(a1.pings("10.83.0.11"), "without fences A reaches C");

        let mut fences = Fences::from([
            (A.to_string(), fence(&net_a, none())),
            (C.to_string(), fence(&net_c, none())),
            (I.to_string(), fence(&net_i, none())),
        ]);
        dataplane.firewall.sync_fences(&fences).unwrap();
        assert!(a1.pings("10.81.0.12"), "A -> A");
        assert!(!a1.pings_once("10.83.0.11"), "A -> C is fenced off");
        assert!(!c1.pings_once("10.81.0.11"), "C -> A is fenced off");
        assert!(d.pings("10.81.0.11"), "a container on A and C reaches A");
        assert!(d.pings("10.83.0.11"), "a container on A and C reaches C");
        assert!(outside.pings("10.81.0.11"), "outside -> A");
        assert!(a1.pings("198.51.100.2"), "A -> outside");
        assert!(i1.pings("10.85.0.1"), "internal -> its gateway (the host)");
        assert!(!i1.pings_once("198.51.100.2"), "internal -> outside");
        assert!(!outside.pings_once("10.85.0.11"), "outside -> internal");
        assert!(!a1.pings_once("10.85.0.11"), "A -> internal");
        assert!(
            !i1.pings_once("10.81.0.11"),
            "internal -> A (A does not accept it)"
        );

        // C accepts A: A opens to C; C still cannot open to A, but answers.
        fences.get_mut(C).unwrap().accepts = Accepts::Networks(BTreeSet::from([A.to_string()]));
        dataplane.firewall.sync_fences(&fences).unwrap();
        assert!(a1.pings("10.83.0.11"), "A -> C once C accepts A");
        assert!(!c1.pings_once("10.81.0.11"), "C -> A still fenced off");
        // A accepts everything.
        fences.get_mut(A).unwrap().accepts = Accepts::Everywhere;
        dataplane.firewall.sync_fences(&fences).unwrap();
        assert!(c1.pings("10.81.0.11"), "C -> A once A accepts all");
        assert!(
            i1.pings("10.81.0.11"),
            "internal -> a wharf network that accepts all"
        );

        // C goes: its fence and everything naming it.
        fences.remove(C);
        dataplane.firewall.sync_fences(&fences).unwrap();
        assert!(!table().contains("cccccccccccc"), "{}", table());
        fences.clear();
        dataplane.firewall.sync_fences(&fences).unwrap();
        assert!(
            !output("nft", &["list", "table", "inet", "wharf"])
                .status
                .success(),
            "the table goes with the last fence"
        );
        assert!(a1.pings("10.83.0.11"), "no fences, no isolation");
        drop(a2);
        run("ip", &["link", "del", "whtestout"]);
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn a_new_daemon_replaces_a_table_someone_changed() {
    in_test_host(|dataplane| {
        let net_a = network(A, "10.81.0.0/24", "10.81.0.1", false);
        let fences = Fences::from([(A.to_string(), fence(&net_a, none()))]);
        dataplane.firewall.sync_fences(&fences).unwrap();
        run(
            "nft",
            &["add", "rule", "inet", "wharf", "forward", "counter", "drop"],
        );
        run("nft", &["add", "chain", "inet", "wharf", "stray"]);
        let restarted = LinuxDataplane::new(LinuxConfig::default()).unwrap();
        let restarted = Dataplane::from_one(Arc::new(restarted));
        restarted.firewall.sync_fences(&fences).unwrap();
        let listing = table();
        assert!(
            !listing.contains("stray") && !listing.contains("counter"),
            "{listing}"
        );
        assert!(listing.contains("in_aaaaaaaaaaaa"), "{listing}");
        // The same fences again: nothing to send.
        restarted.firewall.sync_fences(&fences).unwrap();
        restarted.firewall.sync_fences(&Fences::new()).unwrap();
    });
}
