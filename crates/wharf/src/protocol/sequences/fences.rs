//! Fences between routed networks: which the engine asks the kernel's table to hold.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::dataplane::fence::Accepts;

const NET_C: &str = "c0c0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const NET_M: &str = "3a3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn accepts(f: &Fixture, id: &str) -> Accepts {
    f.kernel.fences()[id].accepts.clone()
}

fn only(ids: &[&str]) -> Accepts {
    Accepts::Networks(ids.iter().map(|s| s.to_string()).collect())
}

#[test]
fn every_routed_network_is_fenced_off_from_the_others_by_default() {
    let f = fixture("fences-default");
    create_network_on(&f, NET, "10.81.0.0/24", json!({})).unwrap();
    create_network_on(&f, NET_C, "10.83.0.0/24", json!({})).unwrap();
    let fences = f.kernel.fences();
    assert_eq!(fences.len(), 2);
    assert_eq!(fences[NET].prefixes, vec!["10.81.0.0/24".parse().unwrap()]);
    assert_eq!(accepts(&f, NET), only(&[]));
    assert_eq!(accepts(&f, NET_C), only(&[]));
    // macvlan networks are kept apart by their segment: no fence.
    f.kernel.add_parent("eth1", 1500);
    create_network_on(
        &f,
        NET_M,
        "10.85.0.0/24",
        json!({"mode": "macvlan", "parent": "eth1"}),
    )
    .unwrap();
    assert_eq!(f.kernel.fences().len(), 2);
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET_C})))
        .unwrap();
    assert_eq!(
        f.kernel.fences().keys().collect::<Vec<_>>(),
        vec![NET],
        "the fence goes with its network"
    );
    f.plugin
        .delete_network(&parse(json!({"NetworkID": NET})))
        .unwrap();
    assert!(f.kernel.fences().is_empty(), "no routed network: no table");
}

#[test]
fn accept_from_names_a_network_once_its_name_is_known_and_star_accepts_all() {
    let f = fixture("fences-accept");
    create_network_on(
        &f,
        NET,
        "10.81.0.0/24",
        json!({"accept_from": "front, 3a3aaaaaaaaa"}),
    )
    .unwrap();
    create_network_on(&f, NET_C, "10.83.0.0/24", json!({})).unwrap();
    create_network_on(&f, NET_M, "10.85.0.0/24", json!({"accept_from": "*"})).unwrap();
    // NET_M by its ID prefix at once; NET_C only when its name is learned.
    assert_eq!(accepts(&f, NET), only(&[NET_M]));
    assert_eq!(accepts(&f, NET_M), Accepts::Everywhere);
    assert!(f.engine.network_unnamed(NET_C));
    let names = BTreeMap::from([
        (NET_C.to_string(), "front".to_string()),
        ("ffff".to_string(), "not wharf's".to_string()),
    ]);
    assert_eq!(f.engine.name_networks(&names).unwrap(), 1);
    assert_eq!(accepts(&f, NET), only(&[NET_M, NET_C]));
    assert!(!f.engine.network_unnamed(NET_C));
    assert_eq!(f.engine.name_networks(&names).unwrap(), 0, "nothing new");
    // Accepting is one-way: front does not accept NET.
    assert_eq!(accepts(&f, NET_C), only(&[]));
}

#[test]
fn a_learned_name_survives_a_restart() {
    let dir = temp_dir("fences-restart");
    let host = recording();
    {
        let f = start(dir.clone(), host.clone());
        create_network_on(&f, NET, "10.81.0.0/24", json!({"accept_from": "front"})).unwrap();
        create_network_on(&f, NET_C, "10.83.0.0/24", json!({})).unwrap();
        f.engine
            .name_networks(&BTreeMap::from([(NET_C.into(), "front".into())]))
            .unwrap();
        f.crash();
    }
    let f = start(dir, host);
    assert_eq!(accepts(&f, NET), only(&[NET_C]));
}

#[test]
fn bad_accept_from_values_and_overlaps_are_refused_and_change_nothing() {
    let f = fixture("fences-bad");
    f.kernel.add_parent("eth1", 1500);
    create_network_on(&f, NET, "10.81.0.0/24", json!({})).unwrap();
    let before = f.engine.state();
    let calls = f.kernel.calls().len();
    for (options, internal, reason) in [
        (json!({"accept_from": ""}), false, "accept_from is empty"),
        (
            json!({"accept_from": "a,*"}),
            false,
            "\"*\" is not a Docker network name",
        ),
        (
            json!({"accept_from": "bad name"}),
            false,
            "\"bad name\" is not a Docker network name",
        ),
        (
            json!({"accept_from": "*"}),
            true,
            "would open an --internal network",
        ),
        (
            json!({"mode": "macvlan", "parent": "eth1", "accept_from": "x"}),
            false,
            "option \"accept_from\" applies to ovs and routed networks, not to mode=macvlan",
        ),
    ] {
        let request = json!({"NetworkID": NET_C, "Options": {
            "com.docker.network.generic": options, "com.docker.network.internal": internal},
            "IPv4Data": [{"AddressSpace": "x", "Gateway": "10.83.0.1/24", "Pool": "10.83.0.0/24"}]});
        let err = f
            .plugin
            .create_network(&parse(request))
            .unwrap_err()
            .to_string();
        assert!(err.contains(reason), "{err}");
    }
    let overlapping = json!({"NetworkID": NET_C, "Options": {},
        "IPv4Data": [{"AddressSpace": "x", "Gateway": "10.81.0.129/25", "Pool": "10.81.0.128/25"}]});
    let err = f
        .plugin
        .create_network(&parse(overlapping))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("subnet 10.81.0.128/25 overlaps 10.81.0.0/24 of network 71c5aaaaaaaa"),
        "{err}"
    );
    assert_eq!(f.engine.state(), before);
    assert_eq!(
        f.kernel.calls().len(),
        calls,
        "{:?}",
        &f.kernel.calls()[calls..]
    );
}

#[test]
fn a_fence_the_kernel_refuses_fails_the_create_and_leaves_nothing() {
    let f = fixture("fences-refused");
    create_network_on(&f, NET, "10.81.0.0/24", json!({})).unwrap();
    let before = f.engine.state();
    f.kernel.fail_on("sync_fences");
    let err = create_network_on(&f, NET_C, "10.83.0.0/24", json!({})).unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(f.engine.state().networks, before.networks);
    assert_eq!(f.engine.state().pools, before.pools);
}
