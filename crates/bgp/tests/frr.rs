//! The speaker against FRR's bgpd (Debian's frr package), in namespaces: a session in each
//! direction, routes both ways seen in FRR's own CLI, withdraws, a wrong AS refused, Cease
//! on shutdown. Needs root: `cargo test -p wharf-bgp -- --include-ignored`.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::speaker::*;
use support::*;
use wharf_bgp::fsm::State;
use wharf_bgp::speaker::{AddressSource, InterfaceAddresses, Speaker, SpeakerConfig};
use wharf_netlink::netns::run_in_netns;

fn session_with_frr(passive: bool) {
    let mut lab = Lab::new(if passive { "frr-passive" } else { "frr-active" });
    let extra = if passive {
        ""
    } else {
        &format!(" neighbor {SPEAKER_V4} passive")
    };
    lab.frr(&frr_config(extra));
    let routes = Collect::default();
    let seen = routes.clone();
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker = Speaker::start(speaker_config(passive, 65000), Box::new(seen))
                .await
                .expect("speaker starts");
            assert!(
                wait_for(Duration::from_secs(20), async || state(&speaker).await
                    == State::Established)
                .await,
                "Established with FRR; FRR says:\n{}",
                lab.vtysh("show bgp summary")
            );
            speaker.announce(vec!["10.60.0.7/32".parse().unwrap()]);
            assert!(
                wait_for(Duration::from_secs(10), async || lab
                    .vtysh("show bgp ipv4 unicast")
                    .contains("10.60.0.7/32"))
                .await,
                "FRR has our route:\n{}",
                lab.vtysh("show bgp ipv4 unicast")
            );
            let via = lab.vtysh("show bgp ipv4 unicast 10.60.0.7/32");
            assert!(
                via.contains(SPEAKER_V4) && via.contains("65001"),
                "next hop self, our AS: {via}"
            );
            assert!(
                wait_for(Duration::from_secs(10), async || routes
                    .next_hops("10.62.0.0/24")
                    .is_some_and(|h| h == vec![PEER_V4.parse::<IpAddr>().unwrap()]))
                .await,
                "we learned FRR's route"
            );
            let table = speaker.routes().await;
            assert!(
                table.iter().any(|r| r.prefix.to_string() == "10.62.0.0/24"),
                "{table:?}"
            );
            let neighbors = speaker.neighbors().await;
            assert_eq!(neighbors[0].accepted, 1, "{neighbors:?}");
            speaker.withdraw(vec!["10.60.0.7/32".parse().unwrap()]);
            assert!(
                wait_for(Duration::from_secs(10), async || !lab
                    .vtysh("show bgp ipv4 unicast")
                    .contains("10.60.0.7/32"))
                .await,
                "FRR lost the withdrawn route"
            );
            if !passive {
                // FRR ends the session: its routes go, and we know why.
                lab.vtysh_config(&format!("neighbor {SPEAKER_V4} shutdown"));
                assert!(
                    wait_for(Duration::from_secs(10), async || routes
                        .next_hops("10.62.0.0/24")
                        == Some(vec![]))
                    .await,
                    "FRR's routes went with its session"
                );
                let n = speaker.neighbors().await;
                assert!(
                    n[0].last_error
                        .as_deref()
                        .unwrap_or_default()
                        .contains("administrative shutdown"),
                    "{n:?}"
                );
            }
            speaker.shutdown().await;
        });
    })
    .expect("speaker namespace");
    if passive {
        assert!(
            eventually(Duration::from_secs(5), || lab
                .vtysh("show bgp neighbors")
                .contains("Administrative Shutdown")),
            "FRR heard our Cease: {}",
            lab.vtysh("show bgp neighbors")
        );
    }
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn frr_connects_to_a_passive_speaker_and_routes_go_both_ways() {
    session_with_frr(true);
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn the_speaker_connects_to_a_passive_frr_and_routes_go_both_ways() {
    session_with_frr(false);
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn a_peer_with_the_wrong_as_never_establishes() {
    let mut lab = Lab::new("frr-wrong-as");
    lab.frr(&frr_config(""));
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker =
                Speaker::start(speaker_config(false, 65099), Box::new(Collect::default()))
                    .await
                    .unwrap();
            tokio::time::sleep(Duration::from_secs(4)).await;
            let n = speaker.neighbors().await;
            assert_ne!(n[0].state, State::Established);
            assert!(
                n[0].last_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("bad peer AS"),
                "{n:?}"
            );
            speaker.shutdown().await;
        })
    })
    .unwrap();
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn a_tcp_md5_password_must_match_frrs() {
    let mut lab = Lab::new("frr-md5");
    lab.frr(&frr_config(&format!(
        " neighbor {SPEAKER_V4} password s3cret-pw"
    )));
    for (password, establishes) in [("wrong-pw", false), ("s3cret-pw", true)] {
        run_in_netns(&lab.speaker_netns(), || {
            runtime().block_on(async {
                let mut config = speaker_config(false, 65000);
                config.peers[0].transport.password = Some(password.into());
                let speaker = Speaker::start(config, Box::new(Collect::default()))
                    .await
                    .unwrap();
                let up = wait_for(
                    Duration::from_secs(if establishes { 20 } else { 6 }),
                    async || state(&speaker).await == State::Established,
                )
                .await;
                assert_eq!(
                    up,
                    establishes,
                    "password {password}: {:?}",
                    speaker.neighbors().await
                );
                speaker.shutdown().await;
            })
        })
        .unwrap();
    }
}

/// Kills the lab's bgpd at once: no NOTIFICATION, only the TCP connection closing.
fn kill_frr(lab: &Lab) {
    let pid = std::fs::read_to_string(lab.dir.join("frr/bgpd.pid")).expect("bgpd's pid file");
    run("kill", &["-9", pid.trim()]);
}

/// Whether `prefix` was ever withdrawn (given no next hop) among the changes seen so far.
fn ever_withdrawn(routes: &Collect, prefix: &str) -> bool {
    let prefix: ipnet::IpNet = prefix.parse().unwrap();
    routes
        .all()
        .iter()
        .any(|c| c.prefix == prefix && c.next_hops.is_empty())
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn a_restarting_frrs_routes_stay_until_its_restart_time_ends() {
    let mut lab = Lab::new("frr-gr");
    let config = frr_config(" bgp graceful-restart\n bgp graceful-restart restart-time 6");
    lab.frr(&config);
    let routes = Collect::default();
    let seen = routes.clone();
    let via = vec![PEER_V4.parse::<IpAddr>().unwrap()];
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker = Speaker::start(speaker_config(false, 65000), Box::new(seen))
                .await
                .unwrap();
            let up = async || state(&speaker).await == State::Established;
            assert!(wait_for(Duration::from_secs(20), up).await, "Established");
            let learned = async || routes.next_hops("10.62.0.0/24") == Some(via.clone());
            assert!(
                wait_for(Duration::from_secs(10), learned).await,
                "FRR's route"
            );

            // FRR dies and comes back within its restart time: the route never goes.
            kill_frr(&lab);
            let down = async || state(&speaker).await != State::Established;
            assert!(
                wait_for(Duration::from_secs(10), down).await,
                "the session ended"
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
            lab.frr(&config);
            assert!(
                wait_for(Duration::from_secs(20), up).await,
                "Established again"
            );
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert!(
                !ever_withdrawn(&routes, "10.62.0.0/24"),
                "kept through the restart: {:?}",
                routes.all()
            );
            assert_eq!(routes.next_hops("10.62.0.0/24"), Some(via.clone()));

            // FRR dies and stays away: the route goes once its 6 s restart time is over.
            kill_frr(&lab);
            assert!(
                wait_for(Duration::from_secs(10), down).await,
                "the session ended"
            );
            let gone_at = std::time::Instant::now();
            let withdrawn = async || routes.next_hops("10.62.0.0/24") == Some(vec![]);
            assert!(
                wait_for(Duration::from_secs(20), withdrawn).await,
                "withdrawn at last"
            );
            let kept_for = gone_at.elapsed();
            assert!(
                kept_for >= Duration::from_secs(4),
                "kept for {kept_for:?}, not the peer's restart time"
            );
            speaker.shutdown().await;
        })
    })
    .unwrap();
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn frr_gets_only_the_exported_prefixes_with_their_communities() {
    let mut lab = Lab::new("frr-export");
    lab.frr(&frr_config(""));
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let mut config = speaker_config(false, 65000);
            config.peers[0].export = wharf_bgp::policy::PeerExport {
                only: vec![wharf_bgp::policy::PrefixFilter {
                    prefix: "10.60.0.0/16".parse().unwrap(),
                    min_len: 16,
                    max_len: 32,
                }],
                communities: vec![wharf_bgp::wire::Community(65001 << 16 | 100)],
            };
            let speaker = Speaker::start(config, Box::new(Collect::default()))
                .await
                .unwrap();
            let up = async || state(&speaker).await == State::Established;
            assert!(wait_for(Duration::from_secs(20), up).await, "Established");
            speaker.announce(vec![
                "10.60.0.7/32".parse().unwrap(),
                "10.99.0.1/32".parse().unwrap(),
            ]);
            let table = || lab.vtysh("show bgp ipv4 unicast");
            assert!(
                wait_for(Duration::from_secs(10), async || table()
                    .contains("10.60.0.7/32"))
                .await,
                "{}",
                table()
            );
            let route = lab.vtysh("show bgp ipv4 unicast 10.60.0.7/32");
            assert!(route.contains("Community: 65001:100"), "{route}");
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert!(!table().contains("10.99.0.1"), "{}", table());
            let neighbors = speaker.neighbors().await;
            assert_eq!(neighbors[0].advertised, 1, "{neighbors:?}");
            speaker.shutdown().await;
        })
    })
    .unwrap();
}

/// FRR's word on the speaker's session (`show bgp neighbors ADDRESS json`).
fn frr_neighbor(lab: &Lab) -> serde_json::Value {
    let text = lab.vtysh(&format!("show bgp neighbors {SPEAKER_V4} json"));
    let all: serde_json::Value = serde_json::from_str(&text).expect("FRR's JSON");
    all[SPEAKER_V4].clone()
}

/// FRR's path to `prefix` from the speaker: (stale, when FRR last changed it).
fn frr_path(lab: &Lab, prefix: &str) -> Option<(bool, u64)> {
    let text = lab.vtysh(&format!("show bgp ipv4 unicast {prefix} json"));
    let route: serde_json::Value = serde_json::from_str(&text).ok()?;
    let path = route["paths"].get(0)?;
    Some((
        path["stale"].as_bool().unwrap_or(false),
        path["lastUpdate"]["epoch"].as_u64()?,
    ))
}

/// A speaker's life: it starts (a restart, or not), announces `prefix`, is Established,
/// and dies without a NOTIFICATION (its runtime goes, as with the process), unless told
/// to shut down.
fn speaker_life(lab: &Lab, restarted: bool, prefix: &str, shut_down: bool) -> serde_json::Value {
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let config = SpeakerConfig {
                restarted,
                ..speaker_config(false, 65000)
            };
            let speaker = Speaker::start(config, Box::new(Collect::default()))
                .await
                .unwrap();
            speaker.announce(vec![prefix.parse().unwrap()]);
            let up = async || state(&speaker).await == State::Established;
            assert!(wait_for(Duration::from_secs(20), up).await, "Established");
            let fresh = async || frr_path(lab, prefix).is_some_and(|(stale, _)| !stale);
            assert!(
                wait_for(Duration::from_secs(10), fresh).await,
                "FRR has the route"
            );
            let seen = frr_neighbor(lab);
            if shut_down {
                speaker.shutdown().await;
            }
            seen
        })
    })
    .unwrap()
}

/// The Restart State bit and the IPv4 Forwarding State bit of the speaker's last OPEN.
fn restart_bits(neighbor: &serde_json::Value) -> (Option<bool>, Option<bool>) {
    let info = &neighbor["gracefulRestartInfo"];
    (
        info["rBit"].as_bool(),
        info["ipv4Unicast"]["fBit"].as_bool(),
    )
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn a_speaker_restarted_with_its_forwarding_kept_says_so_and_frr_keeps_its_routes() {
    let mut lab = Lab::new("frr-restarting");
    lab.frr(&frr_config(" bgp graceful-restart"));
    let prefix = "10.60.0.8/32";

    // A fresh start: nothing kept, nothing claimed.
    let first = speaker_life(&lab, false, prefix, false);
    assert_eq!(restart_bits(&first), (Some(false), Some(false)), "{first}");
    // It died without a word: FRR, its helper, keeps the route as stale.
    let kept = frr_path(&lab, prefix);
    assert!(kept.is_some_and(|(stale, _)| stale), "{kept:?}");

    // Back with its forwarding kept: it says so; the route was there all along and is
    // fresh again.
    let second = speaker_life(&lab, true, prefix, false);
    assert_eq!(restart_bits(&second), (Some(true), Some(true)), "{second}");

    // Dead again, then a fresh start (the host rebooted: nothing kept): no bits, and FRR
    // takes the route from the new session only.
    assert!(frr_path(&lab, prefix).is_some_and(|(stale, _)| stale));
    let third = speaker_life(&lab, false, prefix, true);
    assert_eq!(restart_bits(&third), (Some(false), Some(false)), "{third}");
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn routes_kept_from_before_a_restart_go_when_every_peer_has_sent_its_table() {
    let mut lab = Lab::new("frr-relearned");
    lab.frr(&frr_config(""));
    let routes = Collect::default();
    let seen = routes.clone();
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let config = SpeakerConfig {
                restarted: true,
                ..speaker_config(false, 65000)
            };
            let speaker = Speaker::start(config, Box::new(seen)).await.unwrap();
            // The kernel had both; FRR sends only the first again.
            let kept = vec![
                "10.62.0.0/24".parse().unwrap(),
                "10.69.0.0/24".parse().unwrap(),
            ];
            speaker.keep_until_relearned(kept, Duration::from_secs(600));
            let gone = async || routes.next_hops("10.69.0.0/24") == Some(vec![]);
            assert!(
                wait_for(Duration::from_secs(20), gone).await,
                "removed after FRR's End-of-RIB, long before the 600 s: {:?}",
                routes.all()
            );
            assert_eq!(
                routes.next_hops("10.62.0.0/24"),
                Some(vec![PEER_V4.parse::<IpAddr>().unwrap()])
            );
            assert!(!ever_withdrawn(&routes, "10.62.0.0/24"));
            speaker.shutdown().await;
        })
    })
    .unwrap();
}

/// The addresses beside the speaker's IPv4 one on its side of the lab's cable.
struct LabAddresses;

impl InterfaceAddresses for LabAddresses {
    fn beside(&self, _local: IpAddr) -> Vec<IpAddr> {
        vec![SPEAKER_V6.parse().unwrap()]
    }
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn ipv6_prefixes_go_both_ways_over_an_ipv4_session() {
    let mut lab = Lab::new("frr-v6-over-v4");
    // bgpd runs without zebra here, so it knows no address of its interface: it is told
    // its IPv6 next hop (without, it sends an IPv4-mapped one, which no IPv6 route can use).
    let extra = format!(
        " address-family ipv6 unicast
  neighbor {SPEAKER_V4} activate
  neighbor {SPEAKER_V4} route-map v6-next-hop out
  network fd62::/64
 exit-address-family"
    );
    let route_map =
        format!("route-map v6-next-hop permit 10\n set ipv6 next-hop global {PEER_V6}\n");
    lab.frr(&(frr_config(&extra) + &route_map));
    let routes = Collect::default();
    let seen = routes.clone();
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let config = SpeakerConfig {
                interface_addresses: Some(AddressSource(std::sync::Arc::new(LabAddresses))),
                ..speaker_config(false, 65000)
            };
            let speaker = Speaker::start(config, Box::new(seen)).await.unwrap();
            speaker.announce(vec!["fd60::8/128".parse().unwrap()]);
            let via = vec![PEER_V6.parse::<IpAddr>().unwrap()];
            let learned = async || routes.next_hops("fd62::/64") == Some(via.clone());
            assert!(
                wait_for(Duration::from_secs(20), learned).await,
                "FRR's IPv6 prefix, via its IPv6 address, over the IPv4 session: {:?}",
                routes.all()
            );
            let at_frr = || lab.vtysh("show bgp ipv6 unicast fd60::8/128");
            assert!(
                wait_for(Duration::from_secs(10), async || at_frr().contains("best")).await,
                "FRR has the speaker's IPv6 prefix:\n{}",
                at_frr()
            );
            let text = at_frr();
            assert!(
                text.contains(SPEAKER_V6),
                "next hop the speaker's IPv6 address:\n{text}"
            );
            // The IPv4 side of the session carries on as before.
            assert_eq!(
                routes.next_hops("10.62.0.0/24"),
                Some(vec![PEER_V4.parse::<IpAddr>().unwrap()])
            );
            speaker.shutdown().await;
        })
    })
    .unwrap();
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn a_default_route_and_a_prefix_covering_the_host_are_refused_unless_allowed() {
    let mut lab = Lab::new("frr-refused");
    // FRR offers a default route, the lab's own cable prefix (which holds the speaker's
    // address) and one ordinary prefix.
    let extra = format!(
        " address-family ipv4 unicast\n  neighbor {SPEAKER_V4} default-originate\n  network 198.51.100.0/24\n exit-address-family"
    );
    lab.frr(&frr_config(&extra));
    for allow_default in [false, true] {
        let routes = Collect::default();
        let seen = routes.clone();
        run_in_netns(&lab.speaker_netns(), || {
            runtime().block_on(async {
                let mut config = speaker_config(false, 65000);
                config.peers[0].import.allow_default = allow_default;
                let speaker = Speaker::start(config, Box::new(seen)).await.unwrap();
                let via = vec![PEER_V4.parse::<IpAddr>().unwrap()];
                let learned = async || routes.next_hops("10.62.0.0/24") == Some(via.clone());
                assert!(
                    wait_for(Duration::from_secs(20), learned).await,
                    "FRR's route"
                );
                let received = async || {
                    speaker
                        .neighbors()
                        .await
                        .first()
                        .is_some_and(|n| n.received >= 3)
                };
                assert!(
                    wait_for(Duration::from_secs(10), received).await,
                    "FRR sent its three routes: {:?}",
                    speaker.neighbors().await
                );
                let accepted = speaker.neighbors().await[0].accepted;
                assert_eq!(
                    routes.next_hops("198.51.100.0/24"),
                    None,
                    "covers our address"
                );
                if allow_default {
                    assert_eq!(routes.next_hops("0.0.0.0/0"), Some(via.clone()));
                    assert_eq!(accepted, 2);
                } else {
                    assert_eq!(routes.next_hops("0.0.0.0/0"), None, "{:?}", routes.all());
                    assert_eq!(accepted, 1);
                }
                speaker.shutdown().await;
            })
        })
        .unwrap();
    }
}
