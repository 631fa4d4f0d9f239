//! The speaker asks FRR's bgpd for its routes again (ROUTE-REFRESH, RFC 2918), in
//! namespaces: FRR counts the requests (`messageStats.routeRefreshRecv` of
//! `show bgp neighbors ADDRESS json`), sends its table again, which the speaker imports
//! without touching the kernel for the unchanged route; a peer that did not offer the
//! capability is not sent one. Needs root: `cargo test -p wharf-bgp --test refresh --
//! --include-ignored`.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::speaker::*;
use support::*;
use wharf_bgp::fsm::State;
use wharf_bgp::speaker::{RefreshOutcome, RefreshReport, Speaker};
use wharf_bgp::wire::{Afi, Safi};
use wharf_netlink::netns::run_in_netns;

const FRR_PREFIX: &str = "10.62.0.0/24";

/// FRR announcing one IPv4 prefix, with IPv6 unicast negotiated as well (so a refresh asks
/// for both families); `extra` goes under `router bgp`.
fn frr_config(extra: &str) -> String {
    support::frr_config(&format!(
        "{extra}\n address-family ipv6 unicast\n  neighbor {SPEAKER_V4} activate\n exit-address-family"
    ))
}

/// One of FRR's message counters for our session (`messageStats` in its JSON).
fn frr_counter(lab: &Lab, name: &str) -> u64 {
    let text = lab.vtysh(&format!("show bgp neighbors {SPEAKER_V4} json"));
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("FRR's neighbor JSON ({e}):\n{text}"));
    json[SPEAKER_V4]["messageStats"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no messageStats.{name} in FRR's answer:\n{text}"))
}

fn peer() -> IpAddr {
    PEER_V4.parse().unwrap()
}

/// How many changes the sink was given for FRR's prefix.
fn changes_for_frrs_prefix(routes: &Collect) -> usize {
    let prefix: ipnet::IpNet = FRR_PREFIX.parse().unwrap();
    routes.all().iter().filter(|c| c.prefix == prefix).count()
}

/// Waits until the session with FRR is Established and FRR's prefix has reached the sink.
async fn established_with_frrs_route(lab: &Lab, speaker: &Speaker, routes: &Collect) {
    let up = async || state(speaker).await == State::Established;
    assert!(
        wait_for(Duration::from_secs(20), up).await,
        "Established with FRR; FRR says:\n{}",
        lab.vtysh("show bgp summary")
    );
    let learned = async || routes.next_hops(FRR_PREFIX) == Some(vec![peer()]);
    assert!(
        wait_for(Duration::from_secs(10), learned).await,
        "FRR's route"
    );
}

async fn received(speaker: &Speaker) -> usize {
    speaker.neighbors().await.first().map_or(0, |n| n.received)
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn frr_sends_its_routes_again_when_asked_and_the_unchanged_route_stays_put() {
    let mut lab = Lab::new("refresh");
    lab.frr(&frr_config(""));
    let routes = Collect::default();
    let seen = routes.clone();
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker = Speaker::start(speaker_config(false, 65000), Box::new(seen))
                .await
                .expect("speaker starts");
            // Asked at once, the session cannot be up yet.
            let early = speaker.refresh(None).await;
            assert!(
                matches!(
                    early[..],
                    [RefreshReport {
                        outcome: RefreshOutcome::NotEstablished(_),
                        ..
                    }]
                ),
                "{early:?}"
            );
            established_with_frrs_route(&lab, &speaker, &routes).await;
            assert_eq!(frr_counter(&lab, "routeRefreshRecv"), 0);
            let updates_before = frr_counter(&lab, "updatesSent");
            let received_before = received(&speaker).await;
            let changes_before = changes_for_frrs_prefix(&routes);

            let reports = speaker.refresh(None).await;
            let both = vec![(Afi::IPV4, Safi::UNICAST), (Afi::IPV6, Safi::UNICAST)];
            assert_eq!(
                reports,
                vec![RefreshReport {
                    peer: peer(),
                    outcome: RefreshOutcome::Sent(both.clone()),
                }]
            );
            assert!(
                eventually(Duration::from_secs(10), || frr_counter(
                    &lab,
                    "routeRefreshRecv"
                ) == 2),
                "FRR got one ROUTE-REFRESH per family: {}",
                frr_counter(&lab, "routeRefreshRecv")
            );
            // FRR answers with its table: more UPDATEs from it, more prefixes received here.
            assert!(
                wait_for(Duration::from_secs(10), async || received(&speaker).await
                    > received_before)
                .await,
                "the speaker received FRR's table again: {:?}",
                speaker.neighbors().await
            );
            assert!(frr_counter(&lab, "updatesSent") > updates_before);
            // Give the sink its chance to (wrongly) hear about the unchanged route.
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(
                changes_for_frrs_prefix(&routes),
                changes_before,
                "an unchanged path changes nothing in the kernel: {:?}",
                routes.all()
            );
            assert_eq!(routes.next_hops(FRR_PREFIX), Some(vec![peer()]));
            assert_eq!(state(&speaker).await, State::Established);

            // The peer by name; then one that is not configured.
            let named = speaker.refresh(Some(peer())).await;
            assert_eq!(named, reports);
            assert!(
                eventually(Duration::from_secs(10), || frr_counter(
                    &lab,
                    "routeRefreshRecv"
                ) == 4),
                "FRR got the second pair"
            );
            let stranger: IpAddr = "198.51.100.9".parse().unwrap();
            assert_eq!(
                speaker.refresh(Some(stranger)).await,
                vec![RefreshReport {
                    peer: stranger,
                    outcome: RefreshOutcome::UnknownPeer,
                }]
            );
            speaker.shutdown().await;
        })
    })
    .expect("speaker namespace");
}

#[test]
#[ignore = "needs root and FRR; run by scripts/test"]
fn a_peer_that_did_not_offer_route_refresh_is_not_sent_one() {
    let mut lab = Lab::new("refresh-nocap");
    // FRR then sends an OPEN without any capability, Route Refresh included.
    lab.frr(&frr_config(&format!(
        " neighbor {SPEAKER_V4} dont-capability-negotiate"
    )));
    let routes = Collect::default();
    let seen = routes.clone();
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker = Speaker::start(speaker_config(false, 65000), Box::new(seen))
                .await
                .expect("speaker starts");
            established_with_frrs_route(&lab, &speaker, &routes).await;
            let reports = speaker.refresh(None).await;
            assert_eq!(
                reports,
                vec![RefreshReport {
                    peer: peer(),
                    outcome: RefreshOutcome::NoCapability,
                }]
            );
            // FRR answers a ROUTE-REFRESH it did not agree to with a NOTIFICATION (Message
            // Header Error, Bad Message Type) and the session starts over, quickly enough to
            // look Established again: its counters and our last error tell.
            tokio::time::sleep(Duration::from_secs(4)).await;
            assert_eq!(frr_counter(&lab, "routeRefreshRecv"), 0);
            assert_eq!(frr_counter(&lab, "notificationsSent"), 0);
            let neighbors = speaker.neighbors().await;
            assert_eq!(neighbors[0].state, State::Established);
            assert_eq!(neighbors[0].last_error, None, "{neighbors:?}");
            assert_eq!(routes.next_hops(FRR_PREFIX), Some(vec![peer()]));
            speaker.shutdown().await;
        })
    })
    .expect("speaker namespace");
}
