//! A two-namespace lab for the speaker against real BGP daemons: the speaker's namespace and
//! the peer's, joined by a veth "cable" (198.51.100.1/24 and fd5f::1/64 on the speaker's side,
//! .254 and fd5f::fe on the peer's). Everything goes on drop, panics included. The daemons
//! come from Debian's packages: FRR's bgpd (without zebra), BIRD 2, GoBGP.
#![allow(dead_code)] // each test file uses a different subset

pub mod speaker;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const SPEAKER_V4: &str = "198.51.100.1";
pub const PEER_V4: &str = "198.51.100.254";
pub const SPEAKER_V6: &str = "fd5f::1";
pub const PEER_V6: &str = "fd5f::fe";

pub struct Lab {
    pub speaker: String,
    pub peer: String,
    pub dir: PathBuf,
    daemons: Vec<Child>,
    pidfiles: Vec<PathBuf>,
}

pub fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl Lab {
    pub fn new(name: &str) -> Lab {
        let tag = format!("wbgp-{}-{name}", std::process::id());
        let speaker = format!("{tag}-s");
        let peer = format!("{tag}-p");
        let dir = std::env::temp_dir().join(&tag);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab directory");
        let lab = Lab {
            speaker,
            peer,
            dir,
            daemons: Vec::new(),
            pidfiles: Vec::new(),
        };
        for ns in [&lab.speaker, &lab.peer] {
            run("ip", &["netns", "add", ns]);
            run("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        run(
            "ip",
            &[
                "-n",
                &lab.speaker,
                "link",
                "add",
                "cable",
                "type",
                "veth",
                "peer",
                "name",
                "cable",
                "netns",
                &lab.peer,
            ],
        );
        for (ns, v4, v6) in [
            (&lab.speaker, SPEAKER_V4, SPEAKER_V6),
            (&lab.peer, PEER_V4, PEER_V6),
        ] {
            run(
                "ip",
                &["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", "cable"],
            );
            run(
                "ip",
                &[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    "cable",
                    "nodad",
                ],
            );
            run("ip", &["-n", ns, "link", "set", "cable", "up"]);
        }
        lab
    }

    pub fn speaker_netns(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.speaker))
    }

    pub fn peer_netns(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.peer))
    }

    /// Runs a command in namespace `ns`; its standard output (empty if it could not run).
    pub fn output_in(&self, ns: &str, program: &str, args: &[&str]) -> String {
        Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Segments namespace `ns`'s TCP dropped for a TTL below a socket's minimum (GTSM).
    pub fn min_ttl_drops(&self, ns: &str) -> u64 {
        self.output_in(ns, "nstat", &["-az", "TcpExtTCPMinTTLDrop"])
            .lines()
            .find_map(|l| l.strip_prefix("TcpExtTCPMinTTLDrop"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// The established TCP connections of namespace `ns`, as (local, remote) "address:port".
    pub fn connections(&self, ns: &str) -> Vec<(String, String)> {
        self.output_in(ns, "ss", &["-Htn", "state", "established"])
            .lines()
            .filter_map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                // Recv-Q Send-Q Local Peer (ss leaves the state out when it filters by one).
                Some((fields.get(2)?.to_string(), fields.get(3)?.to_string()))
            })
            .collect()
    }

    /// Starts BIRD 2 in the peer's namespace with `config`; the path of its control socket.
    pub fn bird(&mut self, config: &str) -> String {
        std::fs::write(self.dir.join("bird.conf"), config).expect("bird config");
        self.start_bird();
        self.pidfiles.push(self.dir.join("bird.pid"));
        self.dir.join("bird.ctl").display().to_string()
    }

    fn start_bird(&self) {
        let path = |name: &str| self.dir.join(name).display().to_string();
        let (conf, socket, pid) = (path("bird.conf"), path("bird.ctl"), path("bird.pid"));
        run(
            "ip",
            &[
                "netns", "exec", &self.peer, "bird", "-c", &conf, "-s", &socket, "-P", &pid,
            ],
        );
    }

    /// Stops the lab's BIRD and starts it again with the same configuration.
    pub fn restart_bird(&self) {
        stop_by_pidfile(&self.dir.join("bird.pid"));
        self.start_bird();
    }

    /// birdc against the lab's BIRD.
    pub fn birdc(&self, socket: &str, args: &[&str]) -> String {
        let mut all = vec!["-s", socket];
        all.extend_from_slice(args);
        self.output_in(&self.peer, "birdc", &all)
    }

    /// The BGP state BIRD shows for its protocol `wharf` ("Established", "Active", ...).
    pub fn bird_state(&self, socket: &str) -> String {
        self.birdc(socket, &["show", "protocols", "all", "wharf"])
            .lines()
            .find_map(|l| l.trim().strip_prefix("BGP state:"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// The state FRR's bgpd shows for `neighbor` ("Established", "Active", ...).
    pub fn frr_state(&self, neighbor: &str) -> String {
        json_string(
            &self.vtysh(&format!("show bgp neighbors {neighbor} json")),
            "bgpState",
        )
        .unwrap_or_default()
    }

    /// Starts FRR's bgpd (no zebra) in the peer's namespace with `config`.
    pub fn frr(&mut self, config: &str) {
        let dir = self.dir.join("frr");
        std::fs::create_dir_all(&dir).expect("frr directory");
        std::fs::write(dir.join("bgpd.conf"), config).expect("frr config");
        run(
            "chown",
            &["-R", "frr:frr", dir.to_str().unwrap_or_default()],
        );
        self.start_frr();
        self.pidfiles.push(dir.join("bgpd.pid"));
    }

    fn start_frr(&self) {
        let dir = self.dir.join("frr");
        let (conf, pid) = (dir.join("bgpd.conf"), dir.join("bgpd.pid"));
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.peer,
                "/usr/lib/frr/bgpd",
                "-Z",
                "-S",
                "-d",
                "-f",
                conf.to_str().unwrap_or_default(),
                "-i",
                pid.to_str().unwrap_or_default(),
                "--vty_socket",
                dir.to_str().unwrap_or_default(),
            ],
        );
    }

    /// Stops the lab's bgpd and starts it again with the same configuration.
    pub fn restart_frr(&self) {
        stop_by_pidfile(&self.dir.join("frr/bgpd.pid"));
        self.start_frr();
    }

    /// vtysh against the lab's bgpd.
    pub fn vtysh(&self, command: &str) -> String {
        let dir = self.dir.join("frr");
        let output = Command::new("ip")
            .args(["netns", "exec", &self.peer, "vtysh", "--vty_socket"])
            .arg(&dir)
            .args(["-c", command])
            .output()
            .expect("vtysh");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A line of bgpd configuration under `router bgp 65000`.
    pub fn vtysh_config(&self, line: &str) {
        let dir = self.dir.join("frr");
        let status = Command::new("ip")
            .args(["netns", "exec", &self.peer, "vtysh", "--vty_socket"])
            .arg(&dir)
            .args([
                "-c",
                "configure terminal",
                "-c",
                "router bgp 65000",
                "-c",
                line,
            ])
            .status()
            .expect("vtysh");
        assert!(status.success(), "vtysh: {line}");
    }

    /// Starts a process in the peer's namespace, killed on drop.
    pub fn spawn_in_peer(&mut self, program: &str, args: &[&str]) {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.peer, program])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        self.daemons.push(child);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for pid in &self.pidfiles {
            if let Ok(text) = std::fs::read_to_string(pid) {
                let _ = Command::new("kill").arg(text.trim()).status();
            }
        }
        for child in &mut self.daemons {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.speaker, &self.peer] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stops the daemon whose pid file this is, and waits until it is gone.
fn stop_by_pidfile(pidfile: &std::path::Path) {
    let Ok(text) = std::fs::read_to_string(pidfile) else {
        return;
    };
    let pid = text.trim().to_string();
    let _ = Command::new("kill").arg(&pid).status();
    let gone = eventually(Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(gone, "process {pid} ({}) did not stop", pidfile.display());
    let _ = std::fs::remove_file(pidfile);
}

/// The first `"key":"value"` string of a JSON text (FRR's), without a JSON parser.
pub fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let end = json[start..].find('"')?;
    Some(json[start..start + end].to_string())
}

/// The first `"key":number` of a JSON text (FRR's).
pub fn json_number(json: &str, key: &str) -> Option<u64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Polls `check` every 100 ms until it is true or `limit` passes.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// FRR's bgpd in AS 65000 (eBGP with the speaker, AS 65001), announcing 10.62.0.0/24, with
/// short timers; `extra` goes under `router bgp`, before the address families.
pub fn frr_config(extra: &str) -> String {
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

/// Runs a command in the peer's namespace; its standard output.
pub fn peer_output(lab: &Lab, program: &str, args: &[&str]) -> String {
    let output = Command::new("ip")
        .args(["netns", "exec", &lab.peer, program])
        .args(args)
        .output()
        .expect("peer command");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
