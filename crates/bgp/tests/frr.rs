//! The speaker against FRR's bgpd (Debian's frr package), in namespaces: a session in each
//! direction, routes both ways seen in FRR's own CLI, withdraws, a wrong AS refused, Cease
//! on shutdown. Needs root: `cargo test -p wharf-bgp -- --include-ignored`.

mod support;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use support::*;
use wharf_bgp::fsm::State;
use wharf_bgp::policy::PeerImport;
use wharf_bgp::rib::RouteChange;
use wharf_bgp::speaker::{PeerSpec, RouteSink, Speaker, SpeakerConfig};
use wharf_netlink::netns::run_in_netns;

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<RouteChange>>>);

impl RouteSink for Collect {
    fn apply(&mut self, changes: &[RouteChange]) {
        self.0.lock().unwrap().extend_from_slice(changes);
    }
}

impl Collect {
    fn next_hops(&self, prefix: &str) -> Option<Vec<IpAddr>> {
        let prefix: IpNet = prefix.parse().unwrap();
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|c| c.prefix == prefix)
            .map(|c| c.next_hops.clone())
    }
}

fn frr_config(extra: &str) -> String {
    format!(
        "frr defaults traditional
hostname peer
log stdout
router bgp 65000
 bgp router-id {PEER_V4}
 no bgp ebgp-requires-policy
 no bgp network import-check
 timers bgp 3 9
 neighbor {SPEAKER_V4} remote-as 65001
 neighbor {SPEAKER_V4} timers connect 1
{extra}
 address-family ipv4 unicast
  network 10.62.0.0/24
 exit-address-family
"
    )
}

fn speaker_config(passive: bool, peer_as: u32) -> SpeakerConfig {
    SpeakerConfig {
        asn: 65001,
        router_id: SPEAKER_V4.parse().unwrap(),
        port: 179,
        listen: true,
        peers: vec![PeerSpec {
            address: PEER_V4.parse().unwrap(),
            asn: peer_as,
            passive,
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            graceful_restart: Some(30),
            import: PeerImport::default(),
        }],
        protected: vec![SPEAKER_V4.parse().unwrap()],
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn state(speaker: &Speaker) -> State {
    speaker
        .neighbors()
        .await
        .first()
        .map(|n| n.state)
        .unwrap_or(State::Idle)
}

async fn wait_for(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

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
