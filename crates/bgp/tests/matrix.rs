//! The interoperability matrix: the speaker against FRR's bgpd, BIRD 2 and GoBGP, with the
//! speaker active or passive, over IPv4 or IPv6, iBGP or eBGP, with no TCP MD5 password, a
//! matching one, or a wrong one. Not the whole product (72 cases): for each program, every
//! (direction, family) pair once, with iBGP/eBGP and none/matching spread over those four
//! rows so that, across the table, each of their values meets every direction, every family
//! and each other; plus one wrong password per program. `CASES` is the table;
//! `the_table_covers_the_matrix` checks those claims.
//!
//! Each establishing case: Established; the speaker announces a prefix of the session's
//! family and the peer's own CLI (vtysh, birdc, gobgp) shows it via the speaker; the peer's
//! prefix reaches the speaker's sink via the peer; the speaker withdraws and the peer's CLI
//! loses it. A wrong password: neither side is Established for 8 s.
//!
//! Every case has its own Lab (its own namespaces, directory and daemons), so they run in
//! parallel and in any order. Needs root and the three daemons:
//! `cargo test -p wharf-bgp --test matrix -- --include-ignored`.

mod support;

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::speaker::*;
use support::*;
use wharf_bgp::fsm::State;
use wharf_bgp::speaker::{Speaker, SpeakerConfig};
use wharf_netlink::netns::run_in_netns;

/// The peer's AS, in every case; the speaker's is the same (iBGP) or [`SPEAKER_EBGP_AS`].
const PEER_AS: u32 = 65000;
const SPEAKER_EBGP_AS: u32 = 65001;
const PASSWORD: &str = "s3cret-pw";
const WRONG_PASSWORD: &str = "wrong-pw";
/// How long a wrong password is watched for a session that must not come up.
const WRONG_PASSWORD_WATCH: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Program {
    Frr,
    Bird,
    Gobgp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The speaker connects; the peer only listens.
    Active,
    /// The peer connects; the speaker only listens.
    Passive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peering {
    Ibgp,
    Ebgp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Md5 {
    None,
    Matching,
    /// Both sides have a password, not the same one.
    Wrong,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    program: Program,
    direction: Direction,
    family: Family,
    peering: Peering,
    md5: Md5,
}

impl Family {
    fn speaker(self) -> IpAddr {
        match self {
            Family::V4 => SPEAKER_V4.parse().unwrap(),
            Family::V6 => SPEAKER_V6.parse().unwrap(),
        }
    }

    fn peer(self) -> IpAddr {
        match self {
            Family::V4 => PEER_V4.parse().unwrap(),
            Family::V6 => PEER_V6.parse().unwrap(),
        }
    }

    /// What the speaker announces: its family only goes where it has a next hop, and a
    /// session here knows only its own end's address.
    fn speaker_prefix(self) -> &'static str {
        match self {
            Family::V4 => "10.60.0.7/32",
            Family::V6 => "fd60::7/128",
        }
    }

    fn peer_prefix(self) -> &'static str {
        match self {
            Family::V4 => "10.62.0.0/24",
            Family::V6 => "fd62::/64",
        }
    }

    /// The family's name in FRR's and GoBGP's CLIs, and BIRD's channel.
    fn cli(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

impl Case {
    fn speaker_as(&self) -> u32 {
        match self.peering {
            Peering::Ibgp => PEER_AS,
            Peering::Ebgp => SPEAKER_EBGP_AS,
        }
    }

    fn speaker_password(&self) -> Option<&'static str> {
        match self.md5 {
            Md5::None => None,
            Md5::Matching => Some(PASSWORD),
            Md5::Wrong => Some(WRONG_PASSWORD),
        }
    }

    fn peer_password(&self) -> Option<&'static str> {
        match self.md5 {
            Md5::None => None,
            Md5::Matching | Md5::Wrong => Some(PASSWORD),
        }
    }

    /// The peer waits for the speaker to connect.
    fn peer_passive(&self) -> bool {
        self.direction == Direction::Active
    }

    fn speaker_config(&self) -> SpeakerConfig {
        let mut config = speaker_config(self.direction == Direction::Passive, PEER_AS);
        config.asn = self.speaker_as();
        config.protected.push(SPEAKER_V6.parse().unwrap());
        let peer = &mut config.peers[0];
        peer.address = self.family.peer();
        peer.transport.password = self.speaker_password().map(String::from);
        config
    }
}

macro_rules! matrix {
    ($($name:ident: $program:ident $direction:ident $family:ident $peering:ident $md5:ident;)*) => {
        const CASES: &[Case] = &[$(Case {
            name: stringify!($name),
            program: Program::$program,
            direction: Direction::$direction,
            family: Family::$family,
            peering: Peering::$peering,
            md5: Md5::$md5,
        }),*];

        $(
            #[test]
            #[ignore = "needs root, FRR, BIRD and GoBGP; run by scripts/test"]
            fn $name() {
                run_case(stringify!($name));
            }
        )*
    };
}

// Per program: the four (direction, family) rows, then the wrong password. iBGP/eBGP and
// none/matching follow a different pattern over the four rows for each program (the
// password goes with the family for FRR, with the direction for BIRD, with iBGP for GoBGP).
matrix! {
    frr_active_v4_ebgp:               Frr   Active  V4 Ebgp None;
    frr_active_v6_ibgp_md5:           Frr   Active  V6 Ibgp Matching;
    frr_passive_v4_ibgp:              Frr   Passive V4 Ibgp None;
    frr_passive_v6_ebgp_md5:          Frr   Passive V6 Ebgp Matching;
    frr_passive_v6_ibgp_wrong_md5:    Frr   Passive V6 Ibgp Wrong;
    bird_active_v4_ibgp_md5:          Bird  Active  V4 Ibgp Matching;
    bird_active_v6_ebgp_md5:          Bird  Active  V6 Ebgp Matching;
    bird_passive_v4_ebgp:             Bird  Passive V4 Ebgp None;
    bird_passive_v6_ibgp:             Bird  Passive V6 Ibgp None;
    bird_active_v4_ebgp_wrong_md5:    Bird  Active  V4 Ebgp Wrong;
    gobgp_active_v4_ebgp:             Gobgp Active  V4 Ebgp None;
    gobgp_active_v6_ibgp_md5:         Gobgp Active  V6 Ibgp Matching;
    gobgp_passive_v4_ibgp_md5:        Gobgp Passive V4 Ibgp Matching;
    gobgp_passive_v6_ebgp:            Gobgp Passive V6 Ebgp None;
    gobgp_active_v6_ebgp_wrong_md5:   Gobgp Active  V6 Ebgp Wrong;
}

/// Runs one row of the table and reports how long it took (on stderr directly, so that it
/// shows without `--nocapture`).
fn run_case(name: &str) {
    let case = *CASES
        .iter()
        .find(|c| c.name == name)
        .expect("a case of the table");
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| match case.md5 {
        Md5::Wrong => never_established(&case),
        _ => exchange(&case),
    });
    let verdict = if outcome.is_ok() { "passed" } else { "FAILED" };
    let _ = writeln!(
        std::io::stderr(),
        "matrix case {name}: {verdict} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Established, the speaker's prefix in the peer's CLI via the speaker, the peer's in the
/// speaker's sink via the peer, and the speaker's withdrawn again.
fn exchange(case: &Case) {
    let mut lab = Lab::new(case.name);
    let peer = PeerDaemon::start(&mut lab, case);
    let routes = Collect::default();
    let seen = routes.clone();
    let family = case.family;
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker = Speaker::start(case.speaker_config(), Box::new(seen))
                .await
                .expect("speaker starts");
            let up = async || state(&speaker).await == State::Established;
            assert!(
                wait_for(Duration::from_secs(20), up).await,
                "Established: {:?}\nthe peer says:\n{}",
                speaker.neighbors().await,
                peer.session(&lab)
            );
            assert!(
                eventually(Duration::from_secs(5), || peer.established(&lab)),
                "the peer's CLI says Established:\n{}",
                peer.session(&lab)
            );

            let ours = family.speaker_prefix();
            speaker.announce(vec![ours.parse().unwrap()]);
            let via_speaker = async || peer.next_hop(&lab, ours) == Some(family.speaker());
            assert!(
                wait_for(Duration::from_secs(10), via_speaker).await,
                "the peer has {ours} via {}:\n{}",
                family.speaker(),
                peer.route(&lab, ours)
            );

            let theirs = family.peer_prefix();
            let via_peer = async || routes.next_hops(theirs) == Some(vec![family.peer()]);
            assert!(
                wait_for(Duration::from_secs(10), via_peer).await,
                "the sink has {theirs} via {}: {:?}",
                family.peer(),
                routes.all()
            );

            speaker.withdraw(vec![ours.parse().unwrap()]);
            let gone = async || !peer.has_route(&lab, ours);
            assert!(
                wait_for(Duration::from_secs(10), gone).await,
                "the peer lost {ours}:\n{}",
                peer.route(&lab, ours)
            );
            speaker.shutdown().await;
        })
    })
    .expect("speaker namespace");
}

/// With the passwords apart, neither side may reach Established.
fn never_established(case: &Case) {
    let mut lab = Lab::new(case.name);
    let peer = PeerDaemon::start(&mut lab, case);
    run_in_netns(&lab.speaker_netns(), || {
        runtime().block_on(async {
            let speaker = Speaker::start(case.speaker_config(), Box::new(Collect::default()))
                .await
                .expect("speaker starts");
            let end = Instant::now() + WRONG_PASSWORD_WATCH;
            while Instant::now() < end {
                assert_ne!(
                    state(&speaker).await,
                    State::Established,
                    "Established with a wrong password: {:?}",
                    speaker.neighbors().await
                );
                assert!(
                    !peer.established(&lab),
                    "the peer is Established with a wrong password:\n{}",
                    peer.session(&lab)
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            speaker.shutdown().await;
        })
    })
    .expect("speaker namespace");
    // Not for want of trying: the side that was connected to dropped segments whose
    // signature did not match (so the sessions are configured and do meet).
    let failures = md5_failures(&lab.speaker) + md5_failures(&lab.peer);
    assert!(failures > 0, "no segment was refused for its MD5 signature");
}

/// The kernel's count of received segments with a wrong MD5 signature in namespace `ns`
/// (TcpExt TCPMD5Failure, /proc/net/netstat as seen from inside it).
fn md5_failures(ns: &str) -> u64 {
    let text = String::from_utf8_lossy(
        &run("ip", &["netns", "exec", ns, "cat", "/proc/net/netstat"]).stdout,
    )
    .into_owned();
    let mut tcp_ext = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (tcp_ext.next(), tcp_ext.next()) else {
        panic!("no TcpExt in /proc/net/netstat:\n{text}");
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "TCPMD5Failure")
        .and_then(|(_, value)| value.parse().ok())
        .expect("TCPMD5Failure in /proc/net/netstat")
}

/// The peer's program, started in the lab's peer namespace with the case's session and
/// announcing the family's peer prefix; asked through its own CLI.
struct PeerDaemon {
    case: Case,
    /// BIRD's control socket.
    bird_socket: String,
}

impl PeerDaemon {
    fn start(lab: &mut Lab, case: &Case) -> PeerDaemon {
        let bird_socket = lab.dir.join("bird.ctl").display().to_string();
        match case.program {
            Program::Frr => lab.frr(&frr_config(case)),
            Program::Bird => {
                let conf = lab.dir.join("bird.conf");
                std::fs::write(&conf, bird_config(case)).expect("BIRD's configuration");
                let conf = conf.display().to_string();
                lab.spawn_in_peer("bird", &["-f", "-c", &conf, "-s", &bird_socket]);
            }
            Program::Gobgp => start_gobgp(lab, case),
        }
        PeerDaemon {
            case: *case,
            bird_socket,
        }
    }

    /// What the peer's CLI says about the session with the speaker.
    fn session(&self, lab: &Lab) -> String {
        let speaker = self.case.family.speaker().to_string();
        match self.case.program {
            Program::Frr => lab.vtysh(&format!("show bgp neighbors {speaker} json")),
            Program::Bird => self.birdc(lab, &["show", "protocols", "all", "wharf"]),
            Program::Gobgp => peer_output(lab, "gobgp", &["neighbor"]),
        }
    }

    fn established(&self, lab: &Lab) -> bool {
        let text = self.session(lab);
        match self.case.program {
            Program::Frr => {
                let speaker = self.case.family.speaker().to_string();
                serde_json::from_str::<serde_json::Value>(&text)
                    .is_ok_and(|all| all[&speaker]["bgpState"] == "Established")
            }
            Program::Bird => text.contains("Established"),
            // The table abbreviates the state: "Establ".
            Program::Gobgp => text.contains("Establ"),
        }
    }

    /// What the peer's CLI says about `prefix`.
    fn route(&self, lab: &Lab, prefix: &str) -> String {
        let family = self.case.family.cli();
        match self.case.program {
            Program::Frr => lab.vtysh(&format!("show bgp {family} unicast {prefix} json")),
            Program::Bird => self.birdc(lab, &["show", "route", prefix, "all"]),
            Program::Gobgp => peer_output(lab, "gobgp", &["global", "rib", "-a", family]),
        }
    }

    /// Whether the peer's CLI lists `prefix` at all (usable or not).
    fn has_route(&self, lab: &Lab, prefix: &str) -> bool {
        let text = self.route(lab, prefix);
        match self.case.program {
            Program::Frr => serde_json::from_str::<serde_json::Value>(&text)
                .is_ok_and(|route| route["paths"].as_array().is_some_and(|p| !p.is_empty())),
            Program::Bird => text.contains(prefix),
            Program::Gobgp => text
                .lines()
                .any(|line| line.split_whitespace().any(|w| w == prefix)),
        }
    }

    /// The next hop of the peer's usable path to `prefix`, as its CLI shows it; None while it
    /// has none.
    fn next_hop(&self, lab: &Lab, prefix: &str) -> Option<IpAddr> {
        let text = self.route(lab, prefix);
        match self.case.program {
            Program::Frr => {
                let route: serde_json::Value = serde_json::from_str(&text).ok()?;
                let path = route["paths"]
                    .as_array()?
                    .iter()
                    .find(|p| p["valid"] == true)?;
                path["nexthops"][0]["ip"].as_str()?.parse().ok()
            }
            // "10.60.0.7/32  unicast [wharf ...] * (100) [AS65001i]" then "via ADDRESS on cable";
            // a next hop BIRD cannot resolve shows as "unreachable" with no "via".
            Program::Bird => {
                if !text.contains(prefix) {
                    return None;
                }
                let after = text.split_once("via ")?.1;
                after.split_whitespace().next()?.parse().ok()
            }
            // "*> PREFIX  NEXT-HOP  AS_PATH  AGE  ATTRS"
            Program::Gobgp => text.lines().find_map(|line| {
                let mut words = line.split_whitespace().skip_while(|w| *w != prefix);
                words.next()?;
                words.next()?.parse().ok()
            }),
        }
    }

    fn birdc(&self, lab: &Lab, args: &[&str]) -> String {
        let mut all = vec!["-s", &self.bird_socket];
        all.extend_from_slice(args);
        peer_output(lab, "birdc", &all)
    }
}

/// bgpd without zebra: it cannot check next hops against a routing table, and takes them as
/// reachable (which they are: both ends share the cable).
fn frr_config(case: &Case) -> String {
    let speaker = case.family.speaker();
    let family = case.family.cli();
    let mut neighbor = format!(
        " neighbor {speaker} remote-as {}
 neighbor {speaker} timers connect 1
 neighbor {speaker} advertisement-interval 0
",
        case.speaker_as()
    );
    if case.peer_passive() {
        neighbor += &format!(" neighbor {speaker} passive\n");
    }
    if let Some(password) = case.peer_password() {
        neighbor += &format!(" neighbor {speaker} password {password}\n");
    }
    // Only the session's family: an IPv6 session carries IPv6 alone.
    let only_family = match case.family {
        Family::V4 => "",
        Family::V6 => " no bgp default ipv4-unicast\n",
    };
    format!(
        "frr defaults traditional
hostname peer
log stdout
router bgp {PEER_AS}
 bgp router-id {PEER_V4}
 no bgp ebgp-requires-policy
 no bgp network import-check
{only_family} timers bgp 3 9
{neighbor} address-family {family} unicast
  neighbor {speaker} activate
  network {}
 exit-address-family
",
        case.family.peer_prefix()
    )
}

/// BIRD takes an iBGP peer as multihop and resolves its next hops recursively, through
/// routes it has none of here (no kernel protocol): the speaker's route would show as
/// unreachable. `direct` says the speaker shares the link, so its next hop is used as it is.
/// A static blackhole has no next hop of its own: BIRD sends its own address, iBGP or not.
fn bird_config(case: &Case) -> String {
    let (speaker, peer) = (case.family.speaker(), case.family.peer());
    let channel = case.family.cli();
    let mut session = String::new();
    if case.peering == Peering::Ibgp {
        session += "  direct;\n";
    }
    if case.peer_passive() {
        session += "  passive on;\n";
    }
    if let Some(password) = case.peer_password() {
        session += &format!("  password \"{password}\";\n");
    }
    format!(
        "router id {PEER_V4};
protocol device {{}}
protocol static {{ {channel}; route {} blackhole; }}
protocol bgp wharf {{
  local {peer} as {PEER_AS};
  neighbor {speaker} as {};
  connect delay time 1;
  connect retry time 1;
{session}  {channel} {{ import all; export where source = RTS_STATIC; }};
}}
",
        case.family.peer_prefix(),
        case.speaker_as()
    )
}

fn start_gobgp(lab: &mut Lab, case: &Case) {
    let speaker = case.family.speaker();
    let password = match case.peer_password() {
        Some(password) => format!("    auth-password = \"{password}\"\n"),
        None => String::new(),
    };
    let conf = lab.dir.join("gobgpd.toml");
    std::fs::write(
        &conf,
        format!(
            "[global.config]
  as = {PEER_AS}
  router-id = \"{PEER_V4}\"
[[neighbors]]
  [neighbors.config]
    neighbor-address = \"{speaker}\"
    peer-as = {}
{password}  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    passive-mode = {}
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = \"{}-unicast\"
",
            case.speaker_as(),
            case.peer_passive(),
            case.family.cli()
        ),
    )
    .expect("GoBGP's configuration");
    let conf = conf.display().to_string();
    // Its API listens in the peer's namespace: every lab has its own port 50051.
    lab.spawn_in_peer("gobgpd", &["-f", &conf, "--api-hosts", "127.0.0.1:50051"]);
    let prefix = case.family.peer_prefix();
    let family = case.family.cli();
    let add = ["global", "rib", "add", prefix, "-a", family];
    // Until gobgpd answers, adding the route fails: retry.
    assert!(
        eventually(Duration::from_secs(10), || Command::new("ip")
            .args(["netns", "exec", &lab.peer, "gobgp"])
            .args(add)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())),
        "gobgp takes {prefix}"
    );
}

#[test]
fn the_table_covers_the_matrix() {
    for program in [Program::Frr, Program::Bird, Program::Gobgp] {
        let rows: Vec<&Case> = CASES.iter().filter(|c| c.program == program).collect();
        let has = |check: &dyn Fn(&Case) -> bool| rows.iter().any(|c| check(c));
        for direction in [Direction::Active, Direction::Passive] {
            for family in [Family::V4, Family::V6] {
                assert!(
                    has(&|c| c.direction == direction && c.family == family && c.md5 != Md5::Wrong),
                    "{program:?} {direction:?} {family:?}"
                );
            }
        }
        for peering in [Peering::Ibgp, Peering::Ebgp] {
            assert!(has(&|c| c.peering == peering), "{program:?} {peering:?}");
        }
        for md5 in [Md5::None, Md5::Matching] {
            assert!(has(&|c| c.md5 == md5), "{program:?} {md5:?}");
        }
        let wrong = rows.iter().filter(|c| c.md5 == Md5::Wrong).count();
        assert_eq!(wrong, 1, "{program:?}: one wrong password");
    }
    // Across programs, iBGP/eBGP and the password each meet every direction and family.
    let establishing: Vec<&Case> = CASES.iter().filter(|c| c.md5 != Md5::Wrong).collect();
    for peering in [Peering::Ibgp, Peering::Ebgp] {
        for md5 in [Md5::None, Md5::Matching] {
            for direction in [Direction::Active, Direction::Passive] {
                let found = |check: &dyn Fn(&Case) -> bool| establishing.iter().any(|c| check(c));
                assert!(found(&|c| c.peering == peering && c.direction == direction));
                assert!(found(&|c| c.md5 == md5 && c.direction == direction));
                assert!(found(&|c| c.peering == peering && c.md5 == md5));
            }
            for family in [Family::V4, Family::V6] {
                let found = |check: &dyn Fn(&Case) -> bool| establishing.iter().any(|c| check(c));
                assert!(found(&|c| c.peering == peering && c.family == family));
                assert!(found(&|c| c.md5 == md5 && c.family == family));
            }
        }
    }
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "unique names");
}
