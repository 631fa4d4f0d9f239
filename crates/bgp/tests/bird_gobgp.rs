//! The speaker against BIRD 2 and GoBGP (Debian's bird2 and gobgpd), in namespaces: a
//! session, our route in the peer's own table (`birdc show route`, `gobgp global rib`), the
//! peer's route in ours, a withdraw. Needs root: `cargo test -p wharf-bgp -- --include-ignored`.

mod support;

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use support::speaker::*;
use support::*;
use wharf_bgp::fsm::State;
use wharf_bgp::speaker::Speaker;
use wharf_netlink::netns::run_in_netns;

/// Establishes, exchanges routes both ways, withdraws; `table` lists the peer's routes.
fn exchange(lab: &Lab, passive: bool, peer_prefix: &str, table: &(dyn Fn() -> String + Sync)) {
    let routes = Collect::default();
    let seen = routes.clone();
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker = Speaker::start(speaker_config(passive, 65000), Box::new(seen))
                .await
                .expect("speaker starts");
            assert!(
                wait_for(Duration::from_secs(30), async || state(&speaker).await
                    == State::Established)
                .await,
                "Established: {:?}",
                speaker.neighbors().await
            );
            speaker.announce(vec!["10.60.0.7/32".parse().unwrap()]);
            assert!(
                wait_for(Duration::from_secs(10), async || table()
                    .contains("10.60.0.7/32"))
                .await,
                "the peer has our route:\n{}",
                table()
            );
            let hop: IpAddr = PEER_V4.parse().unwrap();
            assert!(
                wait_for(Duration::from_secs(10), async || routes
                    .next_hops(peer_prefix)
                    .is_some_and(|h| h == vec![hop]))
                .await,
                "we learned {peer_prefix}: {:?}",
                speaker.routes().await
            );
            speaker.withdraw(vec!["10.60.0.7/32".parse().unwrap()]);
            assert!(
                wait_for(Duration::from_secs(10), async || !table()
                    .contains("10.60.0.7/32"))
                .await,
                "the peer lost the withdrawn route:\n{}",
                table()
            );
            speaker.shutdown().await;
        });
    })
    .expect("speaker namespace");
}

/// BIRD in the peer's namespace, announcing `routes` (static blackholes) to the speaker.
fn bird(lab: &mut Lab, routes: &[&str]) -> String {
    let conf = lab.dir.join("bird.conf");
    let socket = lab.dir.join("bird.ctl");
    let statics: String = routes
        .iter()
        .map(|r| format!(" route {r} blackhole;"))
        .collect();
    std::fs::write(
        &conf,
        format!(
            "router id {PEER_V4};
protocol device {{}}
protocol static {{ ipv4;{statics} }}
protocol bgp wharf {{
  local {PEER_V4} as 65000;
  neighbor {SPEAKER_V4} as 65001;
  connect retry time 1;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"
        ),
    )
    .unwrap();
    let (conf, socket) = (conf.display().to_string(), socket.display().to_string());
    lab.spawn_in_peer("bird", &["-f", "-c", &conf, "-s", &socket]);
    socket
}

#[test]
#[ignore = "needs root and BIRD; run by scripts/test"]
fn bird_exchanges_routes_with_the_speaker() {
    let mut lab = Lab::new("bird");
    let socket = bird(&mut lab, &["10.63.0.0/24"]);
    exchange(&lab, false, "10.63.0.0/24", &|| {
        peer_output(
            &lab,
            "birdc",
            &["-s", &socket, "show", "route", "protocol", "wharf"],
        )
    });
}

#[test]
#[ignore = "needs root and BIRD; run by scripts/test"]
fn a_peer_past_its_max_prefixes_is_ceased_and_its_routes_go() {
    let mut lab = Lab::new("bird-max");
    bird(&mut lab, &["10.63.0.0/24", "10.63.1.0/24", "10.63.2.0/24"]);
    let routes = Collect::default();
    let seen = routes.clone();
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let mut config = speaker_config(false, 65000);
            config.peers[0].max_prefixes = Some(2);
            let speaker = Speaker::start(config, Box::new(seen)).await.unwrap();
            assert!(
                wait_for(Duration::from_secs(20), async || speaker.neighbors().await
                    [0]
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("maximum number of prefixes"))
                .await,
                "{:?}",
                speaker.neighbors().await
            );
            assert!(
                speaker.routes().await.is_empty(),
                "{:?}",
                speaker.routes().await
            );
            speaker.shutdown().await;
        })
    })
    .unwrap();
    assert!(
        routes
            .next_hops("10.63.0.0/24")
            .is_none_or(|h| h.is_empty()),
        "installed, then taken away"
    );
}

#[test]
#[ignore = "needs root and GoBGP; run by scripts/test"]
fn gobgp_exchanges_routes_with_the_speaker() {
    let mut lab = Lab::new("gobgp");
    let conf = lab.dir.join("gobgpd.toml");
    std::fs::write(
        &conf,
        format!(
            "[global.config]
  as = 65000
  router-id = \"{PEER_V4}\"
[[neighbors]]
  [neighbors.config]
    neighbor-address = \"{SPEAKER_V4}\"
    peer-as = 65001
  [neighbors.timers.config]
    connect-retry = 1
"
        ),
    )
    .unwrap();
    let conf = conf.display().to_string();
    lab.spawn_in_peer("gobgpd", &["-f", &conf, "--api-hosts", "127.0.0.1:50051"]);
    // Until gobgpd answers, adding the route fails: retry.
    assert!(
        eventually(Duration::from_secs(10), || Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.peer,
                "gobgp",
                "global",
                "rib",
                "add",
                "10.64.0.0/24",
                "-a",
                "ipv4"
            ])
            .status()
            .is_ok_and(|s| s.success())),
        "gobgp takes the route"
    );
    exchange(&lab, true, "10.64.0.0/24", &|| {
        peer_output(&lab, "gobgp", &["global", "rib", "-a", "ipv4"])
    });
}
