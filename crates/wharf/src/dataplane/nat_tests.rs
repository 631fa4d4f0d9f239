use super::*;

const N: &str = "aaaaaaaaaaaa00000000000000000000000000000000000000000000000000000000";
const M: &str = "bbbbbbbbbbbb00000000000000000000000000000000000000000000000000000000";
const E1: &str = "e1e1e1e1e1e100000000000000000000000000000000000000000000000000000000";
const E2: &str = "e2e2e2e2e2e200000000000000000000000000000000000000000000000000000000";

fn masquerade(prefixes: &[&str], bridge: &str) -> Masquerade {
    Masquerade {
        prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
        bridge: bridge.into(),
    }
}

fn port(protocol: Protocol, host: Option<&str>, host_port: u16, container: &str) -> PublishedPort {
    PublishedPort {
        protocol,
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port,
        container_ip: container.parse().unwrap(),
        container_port: 80,
    }
}

/// One network with one container publishing TCP 8080 on every address.
fn small() -> Nat {
    Nat {
        masquerade: BTreeMap::from([(N.into(), masquerade(&["10.77.0.1/24"], "ovsbr-n"))]),
        published: BTreeMap::from([(
            E1.into(),
            vec![port(Protocol::Tcp, None, 8080, "10.77.0.11")],
        )]),
    }
}

#[test]
fn no_nat_means_no_table() {
    let script = full_script(&Nat::default());
    assert_eq!(
        script,
        "add table inet wharf_nat\ndelete table inet wharf_nat\n"
    );
    // An endpoint without ports is nothing either.
    let ports_gone = Nat {
        published: BTreeMap::from([(E1.into(), vec![])]),
        ..Nat::default()
    };
    assert_eq!(full_script(&ports_gone), script);
    assert_eq!(change_script(&small(), &ports_gone), Some(script));
    assert_eq!(change_script(&Nat::default(), &ports_gone), None);
}

#[test]
fn one_network_with_one_published_port() {
    assert_eq!(
        full_script(&small()),
        r#"add table inet wharf_nat
delete table inet wharf_nat
table inet wharf_nat {
  comment "wharf: masquerade and published ports of wharf's networks; changed only by wharf"
  set net4 { type ipv4_addr; flags interval; }
  set net6 { type ipv6_addr; flags interval; }
  set own4 { type ipv4_addr . ifname; flags interval; }
  set own6 { type ipv6_addr . ifname; flags interval; }
  set inner4 { type ipv4_addr . ipv4_addr; flags interval; }
  set inner6 { type ipv6_addr . ipv6_addr; flags interval; }
  map any4 { type inet_proto . inet_service : ipv4_addr . inet_service; }
  map any6 { type inet_proto . inet_service : ipv6_addr . inet_service; }
  map at4 { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
  map at6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump published
  }
  chain output {
    type nat hook output priority -100; policy accept;
    fib daddr type local jump published
  }
  chain published {
    meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @at4
    meta nfproto ipv4 dnat ip to meta l4proto . th dport map @any4
    meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @at6
    meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @any6
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ct status dnat ip saddr 127.0.0.0/8 masquerade
    ct status dnat ip saddr . ip daddr @inner4 masquerade
    ct status dnat ip6 saddr . ip6 daddr @inner6 masquerade
    ip saddr . oifname @own4 return
    ip6 saddr . oifname @own6 return
    ip saddr . ip daddr @inner4 return
    ip6 saddr . ip6 daddr @inner6 return
    ip saddr @net4 masquerade
    ip6 saddr @net6 masquerade
  }
}
add element inet wharf_nat net4 { 10.77.0.0/24 }
add element inet wharf_nat own4 { 10.77.0.0/24 . "ovsbr-n" }
add element inet wharf_nat inner4 { 10.77.0.0/24 . 10.77.0.0/24 }
add element inet wharf_nat any4 { tcp . 8080 : 10.77.0.11 . 80 }
"#
    );
}

#[test]
fn ipv6_subnets_and_ports_go_to_the_ipv6_sets() {
    let nat = Nat {
        masquerade: BTreeMap::from([(N.into(), masquerade(&["fd77::5/64"], "br6"))]),
        published: BTreeMap::from([(
            E1.into(),
            vec![
                port(Protocol::Udp, None, 53, "fd77::11"),
                port(Protocol::Sctp, Some("2001:db8::1"), 9, "fd77::11"),
            ],
        )]),
    };
    let script = full_script(&nat);
    for line in [
        "add element inet wharf_nat net6 { fd77::/64 }",
        "add element inet wharf_nat own6 { fd77::/64 . \"br6\" }",
        "add element inet wharf_nat inner6 { fd77::/64 . fd77::/64 }",
        "add element inet wharf_nat any6 { udp . 53 : fd77::11 . 80 }",
        "add element inet wharf_nat at6 { 2001:db8::1 . sctp . 9 : fd77::11 . 80 }",
    ] {
        assert!(script.contains(line), "{line:?} missing from:\n{script}");
    }
    assert!(!script.contains("element inet wharf_nat net4"), "{script}");
}

#[test]
fn adding_and_removing_one_endpoints_ports_touches_only_its_elements() {
    let old = small();
    let mut new = old.clone();
    new.published.insert(
        E2.into(),
        vec![
            port(Protocol::Tcp, Some("198.18.0.1"), 9090, "10.77.0.12"),
            port(Protocol::Udp, None, 8080, "10.77.0.12"),
        ],
    );
    assert_eq!(
        change_script(&old, &new).unwrap(),
        "add element inet wharf_nat any4 { udp . 8080 : 10.77.0.12 . 80 }
add element inet wharf_nat at4 { 198.18.0.1 . tcp . 9090 : 10.77.0.12 . 80 }
"
    );
    assert_eq!(
        change_script(&new, &old).unwrap(),
        "delete element inet wharf_nat any4 { udp . 8080 }
delete element inet wharf_nat at4 { 198.18.0.1 . tcp . 9090 }
"
    );
    assert_eq!(change_script(&new, &new), None);
}

#[test]
fn a_port_that_moves_to_another_container_is_deleted_then_added() {
    let old = small();
    let mut new = old.clone();
    new.published.get_mut(E1).unwrap()[0].container_ip = "10.77.0.13".parse().unwrap();
    assert_eq!(
        change_script(&old, &new).unwrap(),
        "delete element inet wharf_nat any4 { tcp . 8080 }
add element inet wharf_nat any4 { tcp . 8080 : 10.77.0.13 . 80 }
"
    );
}

#[test]
fn a_network_that_comes_or_goes_changes_its_elements_only() {
    let old = small();
    let mut new = old.clone();
    new.masquerade
        .insert(M.into(), masquerade(&["10.78.0.0/24", "fd78::/64"], "br-m"));
    let script = change_script(&old, &new).unwrap();
    assert_eq!(
        script,
        r#"add element inet wharf_nat net4 { 10.78.0.0/24 }
add element inet wharf_nat net6 { fd78::/64 }
add element inet wharf_nat own4 { 10.78.0.0/24 . "br-m" }
add element inet wharf_nat own6 { fd78::/64 . "br-m" }
add element inet wharf_nat inner4 { 10.78.0.0/24 . 10.78.0.0/24 }
add element inet wharf_nat inner6 { fd78::/64 . fd78::/64 }
"#
    );
    let back = change_script(&new, &old).unwrap();
    assert!(
        back.lines().all(|l| l.starts_with("delete element")),
        "{back}"
    );
    assert!(!back.contains("10.77"), "{back}");
}

#[test]
fn the_same_port_twice_goes_to_the_first_endpoint_by_id() {
    let mut nat = small();
    // E2 asks what E1 has (TCP 8080 on every address) and what only overlaps it (on one
    // address); its UDP port is free.
    nat.published.insert(
        E2.into(),
        vec![
            port(Protocol::Tcp, None, 8080, "10.77.0.12"),
            port(Protocol::Tcp, Some("198.18.0.1"), 8080, "10.77.0.12"),
            port(Protocol::Udp, None, 8080, "10.77.0.12"),
        ],
    );
    let script = full_script(&nat);
    assert!(script.contains("any4 { tcp . 8080 : 10.77.0.11 . 80, udp . 8080 : 10.77.0.12 . 80 }"));
    assert!(!script.contains("element inet wharf_nat at4"), "{script}");
    assert_eq!(
        conflicts(&nat),
        vec![
            Conflict::Port {
                endpoint: E2.into(),
                port: port(Protocol::Tcp, None, 8080, "10.77.0.12"),
                holder: E1.into(),
            },
            Conflict::Port {
                endpoint: E2.into(),
                port: port(Protocol::Tcp, Some("198.18.0.1"), 8080, "10.77.0.12"),
                holder: E1.into(),
            },
        ]
    );
    // Adding the colliding endpoint to a table is a change that cannot fail: E2's free
    // port only.
    assert_eq!(
        change_script(&small(), &nat).unwrap(),
        "add element inet wharf_nat any4 { udp . 8080 : 10.77.0.12 . 80 }\n"
    );
    // When E1 goes, E2 gets the port.
    let mut without_e1 = nat.clone();
    without_e1.published.remove(E1);
    let script = change_script(&nat, &without_e1).unwrap();
    assert!(script.starts_with("delete element inet wharf_nat any4 { tcp . 8080 }\n"));
    assert!(script.contains("add element inet wharf_nat any4 { tcp . 8080 : 10.77.0.12 . 80 }"));
    assert!(conflicts(&without_e1)
        .iter()
        .all(|c| matches!(c, Conflict::Port { holder, .. } if holder == E2)));
}

#[test]
fn ports_on_different_addresses_or_families_do_not_collide() {
    let nat = Nat {
        masquerade: BTreeMap::new(),
        published: BTreeMap::from([
            (
                E1.into(),
                vec![
                    port(Protocol::Tcp, Some("198.18.0.1"), 80, "10.77.0.11"),
                    port(Protocol::Tcp, None, 80, "fd77::11"),
                ],
            ),
            (
                E2.into(),
                vec![
                    port(Protocol::Tcp, Some("198.18.0.2"), 80, "10.77.0.12"),
                    // The same port twice in one list is one port.
                    port(Protocol::Tcp, Some("198.18.0.2"), 80, "10.77.0.12"),
                ],
            ),
        ]),
    };
    assert_eq!(conflicts(&nat), vec![]);
    assert!(full_script(&nat).contains(
        "at4 { 198.18.0.1 . tcp . 80 : 10.77.0.11 . 80, 198.18.0.2 . tcp . 80 : 10.77.0.12 . 80 }"
    ));
}

#[test]
fn an_unspecified_host_address_means_every_address_and_families_must_match() {
    let nat = Nat {
        masquerade: BTreeMap::new(),
        published: BTreeMap::from([(
            E1.into(),
            vec![
                port(Protocol::Tcp, Some("0.0.0.0"), 80, "10.77.0.11"),
                port(Protocol::Tcp, Some("198.18.0.1"), 81, "fd77::11"),
            ],
        )]),
    };
    let script = full_script(&nat);
    assert!(script.contains("add element inet wharf_nat any4 { tcp . 80 : 10.77.0.11 . 80 }"));
    assert!(!script.contains(". 81"), "{script}");
    assert_eq!(
        conflicts(&nat),
        vec![Conflict::Families {
            endpoint: E1.into(),
            port: port(Protocol::Tcp, Some("198.18.0.1"), 81, "fd77::11"),
        }]
    );
}

#[test]
fn overlapping_subnets_and_unusable_bridges_are_left_out() {
    let nat = Nat {
        masquerade: BTreeMap::from([
            (N.into(), masquerade(&["10.77.0.0/16"], "br-n")),
            (
                M.into(),
                masquerade(&["10.77.1.0/24", "10.79.0.0/24"], "br-m"),
            ),
            ("c".into(), masquerade(&["10.80.0.0/24"], "bad\" name")),
        ]),
        published: BTreeMap::new(),
    };
    let script = full_script(&nat);
    assert!(script.contains("add element inet wharf_nat net4 { 10.77.0.0/16, 10.79.0.0/24 }"));
    assert!(!script.contains("10.80"), "{script}");
    assert_eq!(
        conflicts(&nat),
        vec![
            Conflict::Subnet {
                network: M.into(),
                prefix: "10.77.1.0/24".parse().unwrap(),
                holder: N.into(),
            },
            Conflict::Bridge {
                network: "c".into(),
                bridge: "bad\" name".into(),
            },
        ]
    );
    assert_eq!(bridges(&nat), vec!["br-m", "br-n"]);
}

#[test]
fn protocols_by_name_and_number() {
    assert_eq!(Protocol::from_number(6), Some(Protocol::Tcp));
    assert_eq!(Protocol::from_number(17).map(Protocol::name), Some("udp"));
    assert_eq!(Protocol::from_number(132).map(Protocol::name), Some("sctp"));
    assert_eq!(Protocol::from_number(1), None);
}
