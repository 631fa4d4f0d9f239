use super::*;
use crate::dataplane::{LinkInfo, Result as DataplaneResult};
use crate::model::{ExtraAddress, Subnet};
use crate::modes::NetworkMode;
use imbl::OrdMap;

const ID: &str = "0123456789abcdef0123456789abcdef";

/// A host with an `eth2` (MTU 1500) and, if asked, the openvswitch module.
struct Host {
    kernel: bool,
}

impl HostView for Host {
    fn link(&self, name: &str) -> DataplaneResult<Option<LinkInfo>> {
        Ok((name == "eth2").then(|| LinkInfo {
            name: name.into(),
            mtu: 1500,
            mac: None,
            owned_parent: false,
            alias: None,
        }))
    }

    fn default_route_device(&self) -> DataplaneResult<Option<String>> {
        Ok(None)
    }

    fn kernel_switching(&self) -> bool {
        self.kernel
    }
}

struct NoAddresses;

impl HostAddressPool for NoAddresses {
    fn take(&mut self, _subnet: &Subnet) -> Result<Option<ExtraAddress>> {
        Ok(None)
    }
}

/// A pool that hands out .200 of each subnet.
struct Pool;

impl HostAddressPool for Pool {
    fn take(&mut self, subnet: &Subnet) -> Result<Option<ExtraAddress>> {
        let IpNet::V4(net) = subnet.prefix else {
            return Ok(None);
        };
        let octets = net.network().octets();
        Ok(Some(ExtraAddress {
            address: IpAddr::from([octets[0], octets[1], octets[2], 200]),
            pool_id: "p".into(),
        }))
    }
}

fn subnets() -> Vec<Subnet> {
    vec![Subnet {
        prefix: "10.91.0.0/24".parse().unwrap(),
        gateway: Some("10.91.0.1".parse().unwrap()),
        pool_id: None,
    }]
}

fn plan_with(mode: &Ovs, options: &[(&str, &str)], kernel: bool) -> Result<Network> {
    let options: BTreeMap<String, String> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let subnets = subnets();
    let draft = NetworkDraft {
        id: ID,
        options: &options,
        mtu: None,
        internal: false,
        ipv6: false,
        subnets: &subnets,
    };
    let plan = mode.plan_network(&draft, &Host { kernel }, &mut NoAddresses)?;
    Ok(Network {
        id: ID.into(),
        mode: "ovs".into(),
        name: None,
        mtu: plan.mtu,
        internal: plan.internal,
        ipv6: false,
        subnets,
        config: plan.config,
        endpoints: OrdMap::new(),
    })
}

fn plan(options: &[(&str, &str)]) -> Result<Network> {
    plan_with(&Ovs::new(OvsDefaults::default()), options, false)
}

fn endpoint() -> Endpoint {
    Endpoint {
        id: "abcdef0123456789".into(),
        host_ifname: "whabcdef0123".into(),
        container_ifname: "wcabcdef0123".into(),
        mac: "02:ab:cd:ef:01:23".into(),
        primary: vec!["10.91.0.5/24".parse().unwrap()],
        extra: Vec::new(),
        sandbox: None,
    }
}

fn described(objects: &[HostObject]) -> Vec<String> {
    objects.iter().map(HostObject::describe).collect()
}

#[test]
fn a_network_with_no_options_is_nat_on_a_bridge_of_its_own_with_the_old_plugins_mtu() {
    let network = plan(&[]).unwrap();
    assert_eq!(network.mtu, 1450);
    let mode = Ovs::new(OvsDefaults::default());
    let objects = mode.network_objects(&network).unwrap();
    assert_eq!(
        described(&objects),
        [
            "ovs bridge ovs-0123456789a (netdev)",
            "ovs port wg0123456789ab of ovs-0123456789a",
            "address 10.91.0.1 dev wg0123456789ab",
            "route 10.91.0.0/24 dev wg0123456789ab",
        ]
    );
    let HostObject::Route(route) = &objects[3] else {
        panic!("{objects:?}")
    };
    assert_eq!(route.source, Some("10.91.0.1".parse().unwrap()));
    assert_eq!(mode.nat_link(&network).as_deref(), Some("wg0123456789ab"));
    assert!(mode.fence(&network).is_some());
    assert_eq!(mode.forwarding(&network), Some(false));
    assert!(mode.describe(&network)["ovs"].contains("datapath netdev"));
}

#[test]
fn the_kernel_datapath_is_the_default_where_the_module_is_loaded() {
    let mode = Ovs::new(OvsDefaults::default());
    let network = plan_with(&mode, &[], true).unwrap();
    assert!(mode.describe(&network)["ovs"].contains("datapath system"));
    let forced = plan_with(&mode, &[("datapath", "netdev")], true).unwrap();
    assert!(mode.describe(&forced)["ovs"].contains("datapath netdev"));
    let error = plan(&[("datapath", "system")]).unwrap_err().to_string();
    assert!(error.contains("openvswitch module"), "{error}");
}

#[test]
fn a_flat_network_has_no_address_its_uplink_is_a_trunk_and_its_ports_are_tagged() {
    let network = plan(&[
        ("ovs_mode", "flat"),
        ("bridge", "ovsbr-flat"),
        ("uplink", "eth2"),
        ("vlan", "30"),
        ("vxlan_remote", "198.51.100.7, 198.51.100.8,198.51.100.7"),
    ])
    .unwrap();
    let mode = Ovs::new(OvsDefaults::default());
    let objects = mode.network_objects(&network).unwrap();
    let ports: Vec<&PortSpec> = objects
        .iter()
        .filter_map(|o| match o {
            HostObject::SwitchPort(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(ports.len(), 3, "{objects:?}");
    assert_eq!(
        (ports[0].name.as_str(), ports[0].vlan),
        ("eth2", PortVlan::Trunk)
    );
    for tunnel in &ports[1..] {
        assert_eq!(tunnel.vlan, PortVlan::Access(30));
        assert!(tunnel.name.starts_with("vx") && tunnel.name.len() <= 15);
        assert!(matches!(tunnel.kind, PortKind::Vxlan { key: 30, .. }));
    }
    assert_ne!(ports[1].name, ports[2].name);
    assert!(!objects
        .iter()
        .any(|o| matches!(o, HostObject::Address(_) | HostObject::Route(_))));
    assert_eq!(mode.nat_link(&network), None);
    assert!(mode.fence(&network).is_none());
    assert_eq!(mode.forwarding(&network), None);
    let endpoint_objects = mode.endpoint_objects(&network, &endpoint()).unwrap();
    assert_eq!(
        described(&endpoint_objects),
        [
            "veth whabcdef0123 / wcabcdef0123",
            "ovs port whabcdef0123 of ovsbr-flat"
        ]
    );
    let HostObject::Veth(veth) = &endpoint_objects[0] else {
        panic!()
    };
    assert_eq!(
        (veth.host_end, veth.mtu),
        (
            HostEnd::SwitchPort {
                software_checksums: true
            },
            1450
        )
    );
    let HostObject::SwitchPort(port) = &endpoint_objects[1] else {
        panic!()
    };
    assert_eq!(port.vlan, PortVlan::Access(30));
    let line = &mode.describe(&network)["ovs"];
    assert!(
        line.contains("vlan 30") && line.contains("uplink eth2"),
        "{line}"
    );
}

#[test]
fn an_untagged_networks_ports_carry_untagged_frames_only() {
    let network = plan(&[("ovs_mode", "flat"), ("vxlan_remote", "198.51.100.7")]).unwrap();
    let mode = Ovs::new(OvsDefaults::default());
    let mut objects = mode.network_objects(&network).unwrap();
    objects.extend(mode.endpoint_objects(&network, &endpoint()).unwrap());
    let vlans: Vec<PortVlan> = objects
        .iter()
        .filter_map(|o| match o {
            HostObject::SwitchPort(p) => Some(p.vlan),
            _ => None,
        })
        .collect();
    assert_eq!(vlans, [PortVlan::Untagged, PortVlan::Untagged]);
}

#[test]
fn a_nat_networks_gateway_port_carries_its_vlan() {
    let network = plan(&[("vlan", "12"), ("bridge", "shared")]).unwrap();
    let objects = Ovs::new(OvsDefaults::default())
        .network_objects(&network)
        .unwrap();
    assert!(objects.iter().any(|o| matches!(o,
        HostObject::SwitchPort(p) if p.vlan == PortVlan::Access(12) && matches!(p.kind, PortKind::Internal { mtu: Some(1450), mac: Some([6, 0x01, 0x23, 0x45, 0x67, 0x89]) }))));
}

#[test]
fn bad_options_are_refused_naming_the_option_and_what_to_do() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (&[("vlan", "4095")], &["vlan", "4094"]),
        (&[("vlan", "0")], &["vlan", "4094"]),
        (&[("vlan", "ten")], &["vlan"]),
        (&[("bridge", "a-very-long-name")], &["bridge", "15"]),
        (&[("bridge", "")], &["bridge", "empty"]),
        (
            &[("ovs_mode", "flat"), ("uplink", "wnosuch0")],
            &["wnosuch0", "does not exist"],
        ),
        (&[("uplink", "eth2")], &["uplink", "flat"]),
        (
            &[("vxlan_remote", "198.51.100.7")],
            &["vxlan_remote", "flat"],
        ),
        (
            &[("ovs_mode", "flat"), ("vxlan_remote", "not-an-ip")],
            &["vxlan_remote", "not an IP"],
        ),
        (
            &[("ovs_mode", "flat"), ("vxlan_remote", "127.0.0.1")],
            &["vxlan_remote"],
        ),
        (
            &[("ovs_mode", "flat"), ("vxlan_vni", "16777216")],
            &["vxlan_vni"],
        ),
        (&[("ovs_mode", "bridge")], &["ovs_mode", "nat or flat"]),
        (&[("datapath", "dpdk")], &["datapath"]),
        (
            &[("ovs_mode", "flat"), ("accept_from", "x")],
            &["accept_from", "nat"],
        ),
        (
            &[
                ("ovs_mode", "flat"),
                ("uplink", "ovsbr"),
                ("bridge", "ovsbr"),
            ],
            &["bridge itself"],
        ),
    ];
    for (options, words) in cases {
        let error = plan(options).unwrap_err().to_string();
        for word in *words {
            assert!(error.contains(word), "{options:?}: {error}");
        }
    }
}

#[test]
fn an_mtu_above_the_uplinks_is_refused() {
    let options: BTreeMap<String, String> = [("ovs_mode", "flat"), ("uplink", "eth2")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let subnets = subnets();
    let draft = NetworkDraft {
        id: ID,
        options: &options,
        mtu: Some(9000),
        internal: false,
        ipv6: false,
        subnets: &subnets,
    };
    let error = Ovs::new(OvsDefaults::default())
        .plan_network(&draft, &Host { kernel: false }, &mut NoAddresses)
        .unwrap_err()
        .to_string();
    assert!(error.contains("uplink eth2 (1500)"), "{error}");
}

#[test]
fn the_default_vni_is_the_same_on_every_host_of_a_segment() {
    let subnet = "10.92.0.0/24".parse().ok();
    assert_eq!(default_vni(None, subnet), default_vni(None, subnet));
    assert_ne!(
        default_vni(None, subnet),
        default_vni(None, "10.92.1.0/24".parse().ok())
    );
    assert_eq!(default_vni(Some(30), subnet), 30);
    assert!((1..=MAX_VNI).contains(&default_vni(None, subnet)));
    assert_eq!(
        vxlan_port("198.51.100.7".parse().unwrap(), 5),
        vxlan_port("198.51.100.7".parse().unwrap(), 5)
    );
}

#[test]
fn the_daemon_form_sets_the_kind_and_the_bridge_of_networks_that_name_none() {
    let mode = Ovs::new(OvsDefaults {
        ovs_mode: OvsMode::Flat,
        bridge: Some(DEFAULT_BRIDGE_NAME.into()),
        mtu: 1450,
    });
    let network = plan_with(&mode, &[], false).unwrap();
    let line = &mode.describe(&network)["ovs"];
    assert!(line.starts_with("bridge ovsbr-docker0 (flat)"), "{line}");
}

#[test]
fn join_gives_the_gateway_unless_internal() {
    let mut network = plan(&[]).unwrap();
    let mode = Ovs::new(OvsDefaults::default());
    let answer = mode.join(&network, &endpoint()).unwrap();
    assert_eq!(answer.gateway_v4, Some("10.91.0.1".parse().unwrap()));
    assert_eq!(answer.interface, "wcabcdef0123");
    assert!(answer.routes.is_empty());
    network.internal = true;
    let answer = mode.join(&network, &endpoint()).unwrap();
    assert_eq!(answer.gateway_v4, None);
    assert!(answer.disable_gateway_service);
    assert_eq!(mode.nat_link(&network), None);
}

#[test]
fn claims_keep_one_datapath_per_bridge_and_one_bridge_per_uplink() {
    let mode = Ovs::new(OvsDefaults::default());
    let network = plan(&[("ovs_mode", "flat"), ("uplink", "eth2"), ("bridge", "b1")]).unwrap();
    let claims = mode.claims(&network);
    assert_eq!(claims.len(), 2);
    assert_eq!(
        (claims[0].what, claims[0].parent.as_str()),
        ("bridge", "b1")
    );
    assert_eq!(claims[0].family, "Open vSwitch netdev");
    assert_eq!(claims[1].parent, "eth2");
    assert!(claims[1].family.contains("b1"));
}

#[test]
fn a_flat_network_gives_the_host_an_address_only_when_asked() {
    let mode = Ovs::new(OvsDefaults::default());
    let options: BTreeMap<String, String> = [
        ("ovs_mode", "flat"),
        ("host_address", "true"),
        ("vlan", "5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let subnets = subnets();
    let draft = NetworkDraft {
        id: ID,
        options: &options,
        mtu: None,
        internal: false,
        ipv6: false,
        subnets: &subnets,
    };
    let host = Host { kernel: false };
    let planned = mode.plan_network(&draft, &host, &mut Pool).unwrap();
    let network = Network {
        id: ID.into(),
        mode: "ovs".into(),
        name: None,
        mtu: planned.mtu,
        internal: false,
        ipv6: false,
        subnets: subnets.clone(),
        config: planned.config,
        endpoints: OrdMap::new(),
    };
    let objects = mode.network_objects(&network).unwrap();
    assert_eq!(
        described(&objects)[1..],
        [
            "ovs port wg0123456789ab of ovs-0123456789a",
            "address 10.91.0.200 dev wg0123456789ab",
            "route 10.91.0.0/24 dev wg0123456789ab",
        ]
    );
    assert!(matches!(&objects[1], HostObject::SwitchPort(p) if p.vlan == PortVlan::Access(5)));
    assert!(mode.describe(&network)["ovs"].contains("host address 10.91.0.200"));
    assert_eq!(mode.nat_link(&network), None);
    // Without wharf's IPAM there is no address to take; a nat network has its gateway.
    let error = mode
        .plan_network(&draft, &host, &mut NoAddresses)
        .unwrap_err()
        .to_string();
    assert!(error.contains("--ipam-driver wharf"), "{error}");
    let mut nat = options.clone();
    nat.insert("ovs_mode".into(), "nat".into());
    nat.remove("vlan");
    let draft = NetworkDraft {
        options: &nat,
        ..draft
    };
    let error = mode
        .plan_network(&draft, &host, &mut Pool)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("host_address") && error.contains("flat"),
        "{error}"
    );
    // Unasked, a flat network has no port of the host's.
    let plain = plan(&[("ovs_mode", "flat")]).unwrap();
    assert!(!mode
        .network_objects(&plain)
        .unwrap()
        .iter()
        .any(|o| matches!(o, HostObject::SwitchPort(_) | HostObject::Address(_))));
}
