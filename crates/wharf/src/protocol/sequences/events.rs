//! The event stream: what subscribers hear for scripted call sequences as dockerd sends them,
//! failures and refusals included, late subscribers and restarts.

use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::dataplane::ProxyNeighbour;
use crate::model::{Advertise, EndpointAddresses, Event, NetworkPrefixes};

/// Everything the subscriber has been sent so far.
fn drain(events: &mut UnboundedReceiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        out.push(event);
    }
    out
}

fn network_prefixes(id: &str, mode: &str, prefixes: &[&str]) -> NetworkPrefixes {
    NetworkPrefixes {
        advertise: Default::default(),
        network: id.into(),
        mode: mode.into(),
        prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
        blocks: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
    }
}

fn addresses(endpoint: &str, addresses: &[&str], link: &str) -> EndpointAddresses {
    EndpointAddresses {
        network: NET.into(),
        endpoint: endpoint.into(),
        addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        link: link.into(),
    }
}

fn empty_snapshot() -> Event {
    Event::Snapshot {
        networks: Vec::new(),
        endpoints: Vec::new(),
    }
}

#[test]
fn a_docker_sequence_publishes_exactly_what_became_reachable_and_what_went() {
    let f = fixture("events-sequence");
    let mut events = f.engine.subscribe();
    assert_eq!(drain(&mut events), [empty_snapshot()]);

    let pool = create_network(&f, json!({})).unwrap();
    let a = addresses(EP_A, &["10.46.1.7/32", "10.46.1.8/32"], "whdabd000000");
    create_endpoint(
        &f,
        &pool,
        EP_A,
        Some("10.46.1.7"),
        json!({"wharf.addresses": "10.46.1.8"}),
    )
    .unwrap();
    join(&f, EP_A);
    f.plugin.leave(&ep(EP_A)).unwrap();
    assert_eq!(
        drain(&mut events),
        [
            Event::NetworkAdded(network_prefixes(NET, "routed", &["10.46.0.0/16"])),
            Event::AddressesAdded(a.clone()),
        ],
        "pools, gateways, Join and Leave publish nothing"
    );

    // A refused endpoint, and one the kernel failed: nothing.
    let refused = create_endpoint(
        &f,
        &pool,
        EP_B,
        None,
        json!({"wharf.addresses": "10.99.0.1"}),
    );
    assert!(refused.is_err());
    f.kernel.fail_on("ensure_routes");
    assert!(create_endpoint(&f, &pool, EP_B, None, json!({})).is_err());
    f.kernel.heal();
    assert_eq!(drain(&mut events), []);

    // A late subscriber starts from everything there is.
    let mut late = f.engine.subscribe();
    assert_eq!(
        drain(&mut late),
        [Event::Snapshot {
            networks: vec![network_prefixes(NET, "routed", &["10.46.0.0/16"])],
            endpoints: vec![a.clone()],
        }]
    );

    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    let expected = [
        Event::AddressesRemoved(a),
        Event::NetworkRemoved(network_prefixes(NET, "routed", &["10.46.0.0/16"])),
    ];
    assert_eq!(drain(&mut events), expected);
    assert_eq!(drain(&mut late), expected);
}

#[test]
fn a_failed_teardown_publishes_nothing_and_a_network_deleted_with_endpoints_takes_them_first() {
    let f = fixture("events-teardown");
    let pool = create_network(&f, json!({})).unwrap();
    create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    let mut events = f.engine.subscribe();
    drain(&mut events);
    f.kernel.fail_on("delete_link");
    assert!(f.plugin.delete_endpoint(&ep(EP_A)).is_err());
    assert!(f
        .plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .is_err());
    assert_eq!(drain(&mut events), []);
    assert!(
        f.engine.state().endpoint(NET, EP_A).is_some(),
        "kept for a retry"
    );
    f.kernel.heal();
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert_eq!(
        drain(&mut events),
        [
            Event::AddressesRemoved(addresses(EP_A, &["10.46.1.7/32"], "whdabd000000")),
            Event::NetworkRemoved(network_prefixes(NET, "routed", &["10.46.0.0/16"])),
        ]
    );
}

/// The network's entry in the snapshot a new subscriber gets.
fn announced_as(f: &Fixture) -> Advertise {
    let mut events = f.engine.subscribe();
    match drain(&mut events).first() {
        Some(Event::Snapshot { networks, .. }) => networks[0].advertise,
        other => panic!("no snapshot first: {other:?}"),
    }
}

#[test]
fn modes_say_what_is_reachable_through_this_host() {
    // macvlan: the segment carries the containers; nothing per address, nothing announced.
    let f = network_on_eth1(
        "events-macvlan",
        json!({"mode": "macvlan", "parent": "eth1"}),
    );
    let mut events = f.engine.subscribe();
    create_endpoint(&f, "local/10.50.0.0/24", EP_A, Some("10.50.0.7"), json!({})).unwrap();
    assert_eq!(
        drain(&mut events),
        [Event::Snapshot {
            networks: vec![NetworkPrefixes {
                advertise: Advertise::None,
                ..network_prefixes(NET, "macvlan", &["10.50.0.0/24"])
            }],
            endpoints: Vec::new(),
        }]
    );
    // ipvlan L3: the host routes them, through the parent, and announces each.
    let f = network_on_eth1(
        "events-l3",
        json!({"mode": "ipvlan", "parent": "eth1", "ipvlan_mode": "l3"}),
    );
    assert_eq!(announced_as(&f), Advertise::Host);
    let mut events = f.engine.subscribe();
    drain(&mut events);
    create_endpoint(&f, "local/10.50.0.0/24", EP_A, Some("10.50.0.7"), json!({})).unwrap();
    assert_eq!(
        drain(&mut events),
        [Event::AddressesAdded(addresses(
            EP_A,
            &["10.50.0.7/32"],
            "eth1"
        ))]
    );
    // ipvlan L2: on the segment, not announced; L3S with advertise=subnet: its subnet.
    let f = network_on_eth1("events-l2", json!({"mode": "ipvlan", "parent": "eth1"}));
    assert_eq!(announced_as(&f), Advertise::None);
    let f = network_on_eth1(
        "events-l3s-subnet",
        json!({"mode": "ipvlan", "parent": "eth1", "ipvlan_mode": "l3s", "advertise": "subnet"}),
    );
    assert_eq!(announced_as(&f), Advertise::Subnet);
}

#[test]
fn an_ipvlan_l2_network_cannot_announce_what_this_host_does_not_route() {
    let f = fixture("events-l2-announce");
    f.kernel.add_parent("eth1", 1500);
    let refused = create_network_on(
        &f,
        NET,
        "10.50.0.0/24",
        json!({"mode": "ipvlan", "parent": "eth1", "advertise": "host"}),
    )
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("advertise") && refused.contains("ipvlan_mode=l3"),
        "{refused}"
    );
    assert!(f.engine.state().networks.is_empty());
}

#[test]
fn every_start_publishes_a_snapshot_after_reconciliation() {
    let dir = temp_dir("events-restart");
    let host = recording();
    {
        let f = start(dir.clone(), host.clone());
        let pool = create_network(&f, json!({})).unwrap();
        create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
        f.crash();
    }
    let store = Store::open_exclusive(&dir).unwrap();
    let modes = ModeRegistry::standard(&ModeDefaults::default());
    let engine = Engine::load(EngineConfig::default(), modes, host.0.clone(), store).unwrap();
    // A subscriber from before reconciliation hears the state as loaded, then as reconciled.
    let mut early = engine.subscribe();
    engine.reconcile().unwrap();
    let snapshot = Event::Snapshot {
        networks: vec![network_prefixes(NET, "routed", &["10.46.0.0/16"])],
        endpoints: vec![addresses(EP_A, &["10.46.1.7/32"], "whdabd000000")],
    };
    assert_eq!(drain(&mut early), [snapshot.clone(), snapshot]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reconciliation_takes_away_proxy_entries_an_earlier_version_made() {
    let f = fixture("legacy-proxies");
    let pool = create_network(&f, json!({})).unwrap();
    create_endpoint(&f, &pool, EP_A, Some("10.46.1.7"), json!({})).unwrap();
    let legacy = ProxyNeighbour {
        address: "fd4e:46::8".parse().unwrap(),
        device: "whdabd000000".into(),
    };
    f.kernel.add_proxy(legacy.clone());
    f.kernel.add_link("eth7", "not ours");
    f.kernel.add_proxy(ProxyNeighbour {
        address: "fd4e:46::9".parse().unwrap(),
        device: "eth7".into(),
    });
    f.engine.reconcile().unwrap();
    let left: Vec<_> = f.kernel.proxies().into_iter().collect();
    assert_eq!(left.len(), 1, "only wharf's link's entry goes: {left:?}");
    assert_eq!(left[0].device, "eth7");
    assert!(f
        .kernel
        .calls()
        .contains(&Call::RemoveProxies(vec![legacy])));
}
