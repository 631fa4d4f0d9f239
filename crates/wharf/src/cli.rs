//! Command-line interface: `wharf serve` and `wharf status`. Every default the daemon uses is
//! a flag here, so `wharf serve` with no flags runs on embedded defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

use crate::dataplane::{IpvlanMode, DEFAULT_ROUTE_PROTOCOL};
use crate::engine::ipam::DefaultPools;
use crate::engine::networks::parse_mtu;
use crate::engine::EngineConfig;
use crate::model::Routing;
use crate::modes::ipvlan::parse_ipvlan_mode;
use crate::modes::ovs::{OvsDefaults, OvsMode, DEFAULT_BRIDGE_NAME};
use crate::modes::{ModeDefaults, ModeRegistry};

pub const DEFAULT_SOCKET: &str = "/run/docker/plugins/wharf.sock";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/wharf";

#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    about = "Docker network and IPAM plugin: routed container networks, every host a router",
    long_about = "wharf is a Docker network driver and IPAM driver (libnetwork remote plugin).\n\
        Run `wharf serve` as root, then:\n  \
        docker network create -d wharf --ipam-driver wharf --subnet 10.46.0.0/16 mine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the plugin daemon (as root); Docker finds it through its socket.
    Serve(Box<ServeArgs>),
    /// Show networks, endpoints, addresses and host routes (from the running daemon, or from
    /// the state file when it is down).
    Status(StatusArgs),
    /// The BGP speaker's neighbors or routes, or ask peers for their routes again (from the
    /// running daemon).
    Bgp(BgpArgs),
}

#[derive(Debug, Args)]
pub struct BgpArgs {
    #[arg(value_enum)]
    pub what: BgpQuery,
    /// With `refresh`: only this peer (default: every peer).
    #[arg(value_name = "PEER")]
    pub peer: Option<std::net::IpAddr>,
    /// The daemon's socket.
    #[arg(long, default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BgpQuery {
    /// One line per peer: address, AS, state, uptime, prefixes received/accepted/advertised.
    Neighbors,
    /// Per prefix: its paths and the ones installed.
    Routes,
    /// Ask every peer, or PEER, to send its routes again (ROUTE-REFRESH, RFC 2918), which
    /// pass the import policy anew; one line per peer says whether it was sent.
    Refresh,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Unix socket Docker reaches the plugin at (created root-only, mode 0600).
    #[arg(long, default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Directory for wharf's state (networks, endpoints, address allocations).
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Mode of networks created without `-o mode=...`: routed, macvlan, ipvlan or ovs; or l2,
    /// l3, l3s for ipvlan networks in that ipvlan mode (the ipvlan plugin's `--mode`); or nat,
    /// flat for Open vSwitch networks of that kind (the Open vSwitch plugin's `--mode`).
    #[arg(long, default_value = "routed", value_parser = parse_daemon_mode)]
    pub mode: DaemonMode,
    /// Parent of macvlan and ipvlan networks created without `-o parent=...`.
    #[arg(long, value_name = "IFACE")]
    pub host_interface: Option<String>,
    /// IPv4 subnet handed to the first network created without --subnet (while it is free).
    /// `--bridge-subnet` is the same, as the Open vSwitch plugin spelled it.
    #[arg(long, visible_alias = "bridge-subnet", value_parser = ipv4_prefix, value_name = "CIDR")]
    pub ipvlan_subnet: Option<IpNet>,
    /// Gateway of the --ipvlan-subnet (--bridge-subnet) network when Docker names none
    /// (default: its first address).
    #[arg(long, requires = "ipvlan_subnet", value_name = "IP")]
    pub gateway: Option<std::net::IpAddr>,
    /// MTU of networks created without `-o mtu=...` (default: 1500, and 1450 for Open vSwitch
    /// networks, which leaves room for VXLAN on a 1500-byte underlay).
    #[arg(long, value_parser = |s: &str| parse_mtu(s).map_err(|e| e.to_string()))]
    pub mtu: Option<u32>,
    /// Open vSwitch bridge of ovs networks created without `-o bridge=...` (default: with
    /// `--mode nat|flat`, ovsbr-docker0; otherwise one per network, named from its ID).
    #[arg(long, value_name = "NAME")]
    pub bridge_name: Option<String>,
    /// Where ovsdb-server listens: unix:PATH or tcp:IP:PORT.
    #[arg(long, default_value = crate::dataplane::linux::DEFAULT_OVSDB_ENDPOINT, value_parser = parse_ovsdb, value_name = "ENDPOINT")]
    pub ovsdb: String,
    /// IPv4 ranges to carve pools from when a network names no --subnet (repeatable).
    #[arg(long = "default-pool", default_value = "10.47.0.0/16", value_parser = ipv4_prefix)]
    pub default_pools: Vec<IpNet>,
    /// Prefix length of each IPv4 default pool.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u8).range(1..=30))]
    pub default_pool_size: u8,
    /// IPv6 ranges to carve pools from when an --ipv6 network names no IPv6 --subnet.
    #[arg(long = "default-pool-v6", default_value = "fd5e:1c4d:9a2b::/48", value_parser = ipv6_prefix)]
    pub default_pools_v6: Vec<IpNet>,
    /// Prefix length of each IPv6 default pool.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u8).range(1..=126))]
    pub default_pool_v6_size: u8,
    /// This host's block of a subnet that spans hosts (repeatable, IPv4 or IPv6): a network
    /// whose subnet holds it gives out addresses from the block only (its gateway aside),
    /// unless it names its own --ip-range. Give each host a different block.
    #[arg(long = "host-block", value_name = "CIDR", value_parser = any_prefix)]
    pub host_blocks: Vec<IpNet>,
    /// Who spreads this host's container routes to other hosts: `bgp`, wharf's own speaker
    /// (the --bgp-* flags or [bgp] in --config); `external`, a routing daemon run beside
    /// wharf (FRR, BIRD) that exports wharf's kernel routes (see examples/routing). Default:
    /// bgp when BGP is configured, external otherwise.
    #[arg(long, value_parser = parse_routing, value_name = "bgp|external")]
    pub routing: Option<Routing>,
    /// Route protocol number that marks wharf's host routes (`ip route show proto N`).
    #[arg(long, default_value_t = DEFAULT_ROUTE_PROTOCOL, value_parser = parse_route_protocol)]
    pub route_protocol: u8,
    /// Routing table of wharf's routes: main (254), or a table of the operator's (1-4294967295
    /// but 253, 255) that wharf has the kernel consult through a rule of its own
    /// (`ip rule show proto 87`, pref 30087), e.g. for a daemon's `ip import-table` or
    /// BIRD's `kernel table`.
    /// (Default: `route_table` in --config, else main.)
    #[arg(long, value_parser = parse_route_table, value_name = "TABLE")]
    pub route_table: Option<u32>,
    /// Seconds to wait for Docker to move an interface into its sandbox.
    #[arg(long, default_value_t = 30)]
    pub sandbox_timeout: u64,
    /// Log every plugin call and kernel change.
    /// A TOML file with what flags cannot carry comfortably (BGP peers' passwords, filters,
    /// limits); flags given as well override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run a BGP speaker with this AS number: container addresses are announced to the
    /// peers, their routes installed (needs --bgp-router-id and a --bgp-peer).
    #[arg(long, value_name = "ASN")]
    pub bgp_asn: Option<u32>,
    /// The speaker's BGP identifier (an IPv4 address of this host, by convention).
    #[arg(long, value_name = "IPV4")]
    pub bgp_router_id: Option<std::net::Ipv4Addr>,
    /// A BGP neighbour, ADDRESS@ASN; repeatable.
    #[arg(long = "bgp-peer", value_name = "ADDRESS@ASN", value_parser = parse_bgp_peer)]
    pub bgp_peers: Vec<(std::net::IpAddr, u32)>,
    /// The TCP port of BGP sessions, listened on and connected to.
    #[arg(long, default_value_t = wharf_bgp::peer::BGP_PORT, hide = true)]
    pub bgp_port: u16,
    /// dockerd's API socket, read for network names (which `accept_from` may use).
    #[arg(long, default_value = "/var/run/docker.sock", value_name = "PATH")]
    pub docker_socket: PathBuf,
    #[arg(long)]
    pub debug: bool,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The daemon's socket.
    #[arg(long, default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// The state directory, read when the daemon does not answer.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The daemon's `--mode`: the mode of networks that name none, with the ipvlan or Open
/// vSwitch kind its old plugin's spelling implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonMode {
    pub mode: String,
    pub ipvlan: Option<IpvlanMode>,
    pub ovs: Option<OvsMode>,
}

/// A wharf mode; or, as the plugins wharf grew from took it, an ipvlan mode (`l2`, `l3`,
/// `l3s`: ipvlan networks in that mode) or an Open vSwitch one (`nat`, `flat`).
fn parse_daemon_mode(text: &str) -> Result<DaemonMode, String> {
    let mut mode = DaemonMode {
        mode: text.into(),
        ipvlan: None,
        ovs: None,
    };
    if let Ok(ipvlan) = parse_ipvlan_mode(text) {
        mode.mode = "ipvlan".into();
        mode.ipvlan = Some(ipvlan);
        return Ok(mode);
    }
    if let Ok(ovs) = OvsMode::parse(text) {
        mode.mode = "ovs".into();
        mode.ovs = Some(ovs);
        return Ok(mode);
    }
    let known = ModeRegistry::standard(&ModeDefaults::default()).names();
    if known.contains(&text) {
        return Ok(mode);
    }
    Err(format!(
        "{text:?} is neither a wharf mode ({}), an ipvlan mode (l2, l3, l3s) nor an Open \
         vSwitch one (nat, flat)",
        known.join(", ")
    ))
}

/// `--route-protocol`: a number no routing daemon or the kernel owns. Routes with a daemon's
/// number are the daemon's (FRR's zebra takes 11, 42 and 186-198 as its own and would neither
/// export nor keep them; BIRD deletes routes with 12, its own, at each scan), and 0-4 are the
/// kernel's (unspec, redirect, kernel, boot, static).
fn parse_route_protocol(text: &str) -> Result<u8, String> {
    let protocol: u8 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a route protocol number (5-255)"))?;
    let owner = match protocol {
        0..=4 => Some("the kernel (0-4: unspec, redirect, kernel, boot, static)"),
        11 | 42 | 186..=198 => Some("FRR (zebra takes 11, 42 and 186-198 as its own routes)"),
        12 => Some("BIRD (it deletes routes of its own protocol, 12, at each scan)"),
        _ => None,
    };
    match owner {
        Some(owner) => Err(format!(
            "{protocol} belongs to {owner}; choose another, e.g. the default {DEFAULT_ROUTE_PROTOCOL}"
        )),
        None => Ok(protocol),
    }
}

/// `--route-table`: main or a number; not the kernel's local (255) or default (253) tables,
/// nor 0, which the kernel takes as "no table".
pub fn parse_route_table(text: &str) -> Result<u32, String> {
    let table = match text.trim() {
        "main" => return Ok(wharf_netlink::consts::RT_TABLE_MAIN),
        number => number
            .parse::<u32>()
            .map_err(|_| format!("{text:?} is not a routing table: give main or 1-4294967295"))?,
    };
    match table {
        0 => Err("table 0 is no table to the kernel: give main or 1-4294967295".into()),
        253 | 255 => Err(format!(
            "table {table} is the kernel's {} table, which wharf's routes must not change: \
             give main or another number",
            if table == 253 { "default" } else { "local" }
        )),
        _ => Ok(table),
    }
}

fn parse_routing(text: &str) -> Result<Routing, String> {
    match text {
        "bgp" => Ok(Routing::Bgp),
        "external" => Ok(Routing::External),
        other => Err(format!(
            "{other:?}: routing is bgp (wharf's own speaker) or external (a daemon such as FRR \
             or BIRD exports wharf's routes)"
        )),
    }
}

fn parse_ovsdb(text: &str) -> Result<String, String> {
    wharf_ovsdb::Endpoint::parse(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("{e} (give unix:PATH or tcp:IP:PORT)"))
}

fn prefix(text: &str, v6: bool) -> Result<IpNet, String> {
    let net = crate::engine::ipam::parse_prefix("pool", text).map_err(|e| e.to_string())?;
    if net.addr().is_ipv6() != v6 {
        return Err(format!(
            "{net} is not an {} prefix",
            if v6 { "IPv6" } else { "IPv4" }
        ));
    }
    Ok(net)
}

fn any_prefix(text: &str) -> Result<IpNet, String> {
    crate::engine::ipam::parse_prefix("block", text).map_err(|e| e.to_string())
}

fn ipv4_prefix(text: &str) -> Result<IpNet, String> {
    prefix(text, false)
}

fn ipv6_prefix(text: &str) -> Result<IpNet, String> {
    prefix(text, true)
}

impl ServeArgs {
    pub fn engine_config(&self) -> Result<EngineConfig, String> {
        for (bases, size, flag) in [
            (
                &self.default_pools,
                self.default_pool_size,
                "--default-pool-size",
            ),
            (
                &self.default_pools_v6,
                self.default_pool_v6_size,
                "--default-pool-v6-size",
            ),
        ] {
            if let Some(base) = bases.iter().find(|b| b.prefix_len() > size) {
                return Err(format!(
                    "{flag} /{size} is larger than the default pool {base}"
                ));
            }
        }
        if let (Some(gateway), Some(subnet)) = (self.gateway, self.ipvlan_subnet) {
            if !subnet.contains(&gateway) {
                return Err(format!(
                    "--gateway {gateway} is outside --ipvlan-subnet {subnet}"
                ));
            }
        }
        // Any --host-block replaces the config file's list.
        let host_blocks = if self.host_blocks.is_empty() {
            self.file()?.host_blocks
        } else {
            self.host_blocks.clone()
        };
        for (i, block) in host_blocks.iter().enumerate() {
            if let Some(other) = host_blocks[..i]
                .iter()
                .find(|b| b.contains(block) || block.contains(*b))
            {
                return Err(format!(
                    "host block {block} overlaps host block {other}: a subnet has one block per host"
                ));
            }
        }
        // Read here so that a bad table stops the start before anything is touched.
        self.route_table()?;
        Ok(EngineConfig {
            default_mode: self.mode.mode.clone(),
            default_pools: DefaultPools {
                v4: self.default_pools.clone(),
                v4_prefix_len: self.default_pool_size,
                v6: self.default_pools_v6.clone(),
                v6_prefix_len: self.default_pool_v6_size,
                preferred_v4: self.ipvlan_subnet.map(|s| s.trunc()),
                preferred_gateway: self.gateway,
            },
            sandbox_timeout: std::time::Duration::from_secs(self.sandbox_timeout),
            host_blocks,
            routing: self.routing()?.0,
        })
    }

    /// The modes' defaults from the flags, for routes spread as `routing` says.
    pub fn mode_defaults(&self, routing: Routing) -> ModeDefaults {
        let defaults = ModeDefaults::default();
        let bridge = match (&self.bridge_name, self.mode.ovs) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(_)) => Some(DEFAULT_BRIDGE_NAME.to_owned()),
            (None, None) => None,
        };
        ModeDefaults {
            mtu: self.mtu.unwrap_or(defaults.mtu),
            ipvlan_mode: self.mode.ipvlan.unwrap_or(defaults.ipvlan_mode),
            parent: self.host_interface.clone(),
            ovs: OvsDefaults {
                ovs_mode: self.mode.ovs.unwrap_or(defaults.ovs.ovs_mode),
                bridge,
                mtu: self.mtu.unwrap_or(defaults.ovs.mtu),
            },
            routing,
        }
    }
}

/// `ADDRESS@ASN`, as `--bgp-peer` takes it.
fn parse_bgp_peer(text: &str) -> Result<(std::net::IpAddr, u32), String> {
    let (address, asn) = text
        .split_once('@')
        .ok_or_else(|| format!("{text:?}: a BGP peer is ADDRESS@ASN, e.g. 198.51.100.254@65000"))?;
    let address = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IP address (in --bgp-peer {text})"))?;
    let asn = asn
        .parse()
        .map_err(|_| format!("{asn:?} is not an AS number 0-4294967295 (in --bgp-peer {text})"))?;
    Ok((address, asn))
}

impl ServeArgs {
    /// The `--config` file's settings (none: the defaults).
    fn file(&self) -> Result<crate::config::FileConfig, String> {
        match &self.config {
            Some(path) => crate::config::FileConfig::load(path),
            None => Ok(crate::config::FileConfig::default()),
        }
    }

    /// The table of wharf's routes: `--route-table`, else the file's `route_table`, else main.
    pub fn route_table(&self) -> Result<u32, String> {
        match self.route_table {
            Some(table) => Ok(table),
            None => match self.file()?.route_table {
                Some(text) => parse_route_table(&text.to_string())
                    .map_err(|e| format!("route_table in the configuration: {e}")),
                None => Ok(wharf_netlink::consts::RT_TABLE_MAIN),
            },
        }
    }

    /// Who spreads the routes (`--routing`, or `routing` in `--config`), with the BGP
    /// speaker's settings from `--config` and the flags when it is wharf's speaker.
    pub fn routing(&self) -> Result<(Routing, Option<crate::routing::BgpSettings>), String> {
        let file = self.file()?;
        let bgp = crate::config::bgp_settings(
            file.bgp.as_ref(),
            self.bgp_asn,
            self.bgp_router_id,
            &self.bgp_peers,
            self.bgp_port,
        )?;
        match (self.routing.or(file.routing), bgp) {
            (Some(Routing::External), Some(_)) => Err(
                "--routing external leaves routing to a daemon beside wharf (FRR, BIRD), so \
                 wharf runs no BGP speaker: drop the --bgp-* flags and [bgp] from the \
                 configuration, or use --routing bgp"
                    .into(),
            ),
            (Some(Routing::Bgp), None) => Err(
                "--routing bgp runs wharf's own BGP speaker, which needs --bgp-asn, \
                 --bgp-router-id and a --bgp-peer (or [bgp] in --config)"
                    .into(),
            ),
            (_, Some(settings)) => Ok((Routing::Bgp, Some(settings))),
            (_, None) => Ok((Routing::External, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_runs_on_embedded_defaults() {
        let cli = Cli::try_parse_from(["wharf", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.socket, PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(args.route_protocol, 87);
        let config = args.engine_config().unwrap();
        assert_eq!(config.default_pools, DefaultPools::default());
        assert_eq!(config.default_mode, "routed");
        assert_eq!(
            args.mode_defaults(Routing::External),
            ModeDefaults::default()
        );
    }

    #[test]
    fn the_open_vswitch_plugins_daemon_form_sets_ovs_defaults() {
        let cli = Cli::try_parse_from([
            "wharf",
            "serve",
            "--mode",
            "flat",
            "--bridge-subnet",
            "172.18.40.0/24",
            "--gateway",
            "172.18.40.1",
            "--ovsdb",
            "tcp:127.0.0.1:6640",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        let config = args.engine_config().unwrap();
        assert_eq!(config.default_mode, "ovs");
        assert_eq!(
            config.default_pools.preferred_v4,
            "172.18.40.0/24".parse().ok()
        );
        let defaults = args.mode_defaults(Routing::External).ovs;
        assert_eq!(defaults.ovs_mode, OvsMode::Flat);
        assert_eq!(defaults.bridge.as_deref(), Some("ovsbr-docker0"));
        assert_eq!(defaults.mtu, 1450);
        assert_eq!(args.ovsdb, "tcp:127.0.0.1:6640");
    }

    #[test]
    fn route_protocols_of_the_kernel_and_the_routing_daemons_are_refused() {
        for (owned, word) in [
            ("0", "kernel"),
            ("4", "kernel"),
            ("11", "FRR"),
            ("42", "FRR"),
            ("186", "FRR"),
            ("198", "FRR"),
            ("12", "BIRD"),
        ] {
            let error = parse_route_protocol(owned).unwrap_err();
            assert!(error.contains(word), "{owned}: {error}");
        }
        assert_eq!(parse_route_protocol("87"), Ok(87));
        assert_eq!(parse_route_protocol("199"), Ok(199));
        assert!(parse_route_protocol("256").is_err());
        assert!(Cli::try_parse_from(["wharf", "serve", "--route-protocol", "186"]).is_err());
    }

    #[test]
    fn bad_flags_are_refused() {
        for argv in [
            &["wharf", "serve", "--mtu", "12"][..],
            &["wharf", "serve", "--mode", "bridge"],
            &["wharf", "serve", "--default-pool", "fd00:1::/48"],
            &["wharf", "serve", "--route-protocol", "2"],
            &["wharf", "serve", "--gateway", "10.1.1.1"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
        let err = parse_daemon_mode("l4").unwrap_err();
        assert!(err.contains("\"l4\""), "{err}");
        assert_eq!(parse_daemon_mode("macvlan").unwrap().mode, "macvlan");
        for argv in [
            &["wharf", "serve", "--ovsdb", "ssl:1.2.3.4:6640"][..],
            &[
                "wharf",
                "serve",
                "--bridge-subnet",
                "10.1.0.0/16",
                "--gateway",
                "10.2.0.1",
            ],
        ] {
            let refused = Cli::try_parse_from(argv)
                .map_err(|e| e.to_string())
                .and_then(|cli| match cli.command {
                    Command::Serve(args) => args.engine_config().map(drop),
                    _ => Ok(()),
                });
            assert!(refused.is_err(), "{argv:?}");
        }
        let cli = Cli::try_parse_from([
            "wharf",
            "serve",
            "--default-pool",
            "10.0.0.0/8",
            "--default-pool-size",
            "4",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert!(args.engine_config().is_err());
    }

    fn serve_args(argv: &[&str]) -> ServeArgs {
        let argv = ["wharf", "serve"].iter().chain(argv);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => *args,
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn routing_is_the_speaker_when_bgp_is_configured_and_a_daemon_beside_wharf_otherwise() {
        let bgp = [
            "--bgp-asn",
            "65001",
            "--bgp-router-id",
            "198.51.100.11",
            "--bgp-peer",
            "198.51.100.12@65002",
        ];
        let routing = |argv: &[&str]| serve_args(argv).routing().map(|(r, s)| (r, s.is_some()));
        assert_eq!(routing(&[]), Ok((Routing::External, false)));
        assert_eq!(
            routing(&["--routing", "external"]),
            Ok((Routing::External, false))
        );
        assert_eq!(routing(&bgp), Ok((Routing::Bgp, true)));
        let both = [&["--routing", "bgp"][..], &bgp].concat();
        assert_eq!(routing(&both), Ok((Routing::Bgp, true)));
        let clash = routing(&[&["--routing", "external"][..], &bgp].concat()).unwrap_err();
        assert!(
            clash.contains("--routing external") && clash.contains("--bgp-"),
            "{clash}"
        );
        let alone = routing(&["--routing", "bgp"]).unwrap_err();
        assert!(alone.contains("--bgp-asn"), "{alone}");
        let bad = Cli::try_parse_from(["wharf", "serve", "--routing", "ospf"]).unwrap_err();
        assert!(bad.to_string().contains("external"), "{bad}");

        // The configuration file's `routing`, which a flag overrides.
        let dir = std::env::temp_dir().join(format!("wharf-cli-routing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("wharf.toml");
        std::fs::write(&file, "routing = \"bgp\"\n").unwrap();
        let path = file.to_str().unwrap();
        let from_file = routing(&["--config", path]).unwrap_err();
        assert!(from_file.contains("--routing bgp"), "{from_file}");
        assert_eq!(
            routing(&["--config", path, "--routing", "external"]),
            Ok((Routing::External, false))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn route_tables_are_main_or_a_number_the_kernel_does_not_keep_for_itself() {
        assert_eq!(serve_args(&[]).route_table(), Ok(254));
        assert_eq!(
            serve_args(&["--route-table", "main"]).route_table(),
            Ok(254)
        );
        assert_eq!(
            serve_args(&["--route-table", "4000000000"]).route_table(),
            Ok(4_000_000_000)
        );
        for (bad, why) in [
            ("0", "no table"),
            ("253", "default"),
            ("255", "local"),
            ("x", "main"),
        ] {
            let err = Cli::try_parse_from(["wharf", "serve", "--route-table", bad])
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let dir = std::env::temp_dir().join(format!("wharf-cli-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("wharf.toml");
        let path = file.to_str().unwrap();
        std::fs::write(&file, "route_table = 100\n").unwrap();
        assert_eq!(serve_args(&["--config", path]).route_table(), Ok(100));
        let flag = serve_args(&["--config", path, "--route-table", "main"]);
        assert_eq!(flag.route_table(), Ok(254), "the flag wins");
        std::fs::write(&file, "route_table = 255\n").unwrap();
        let err = serve_args(&["--config", path]).engine_config().unwrap_err();
        assert!(
            err.contains("route_table") && err.contains("local"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_ipvlan_plugins_flags_set_defaults() {
        let argv = [
            "wharf",
            "serve",
            "--host-interface",
            "eth1",
            "--mode",
            "l3",
            "--ipvlan-subnet",
            "10.1.1.0/24",
            "--gateway",
            "10.1.1.254",
        ];
        let Command::Serve(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("not serve")
        };
        let config = args.engine_config().unwrap();
        assert_eq!(config.default_mode, "ipvlan");
        let defaults = args.mode_defaults(Routing::External);
        assert_eq!(defaults.ipvlan_mode, IpvlanMode::L3);
        assert_eq!(defaults.parent.as_deref(), Some("eth1"));
        assert_eq!(
            config.default_pools.preferred_v4,
            Some("10.1.1.0/24".parse().unwrap())
        );
        let argv = [
            "wharf",
            "serve",
            "--ipvlan-subnet",
            "10.1.1.0/24",
            "--gateway",
            "10.2.0.1",
        ];
        let Command::Serve(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("not serve")
        };
        let err = args.engine_config().unwrap_err();
        assert!(err.contains("outside --ipvlan-subnet"), "{err}");
    }

    #[test]
    fn host_blocks_come_from_the_config_file_unless_flags_give_them() {
        let dir = std::env::temp_dir().join(format!("wharf-cli-blocks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("wharf.toml");
        std::fs::write(
            &file,
            "host_blocks = [\"10.90.1.0/24\", \"10.91.1.0/24\"]\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let blocks = |extra: &[&str]| {
            let mut argv = vec!["wharf", "serve", "--config", path];
            argv.extend_from_slice(extra);
            let Command::Serve(args) = Cli::try_parse_from(argv).unwrap().command else {
                panic!("not serve")
            };
            args.engine_config().map(|c| c.host_blocks)
        };
        let listed =
            |list: &[&str]| -> Vec<IpNet> { list.iter().map(|b| b.parse().unwrap()).collect() };
        assert_eq!(blocks(&[]), Ok(listed(&["10.90.1.0/24", "10.91.1.0/24"])));
        assert_eq!(
            blocks(&["--host-block", "10.92.1.0/24"]),
            Ok(listed(&["10.92.1.0/24"]))
        );
        std::fs::write(
            &file,
            "host_blocks = [\"10.90.1.0/24\", \"10.90.1.128/25\"]\n",
        )
        .unwrap();
        let overlap = blocks(&[]).unwrap_err();
        assert!(overlap.contains("overlaps"), "{overlap}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bgp_refresh_takes_an_optional_peer_address() {
        let parse = |argv: &[&str]| match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Bgp(args)) => Ok((args.peer, args.json)),
            Ok(_) => panic!("not bgp"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(parse(&["wharf", "bgp", "refresh"]), Ok((None, false)));
        let peer = "198.51.100.254".parse().ok();
        assert_eq!(
            parse(&["wharf", "bgp", "refresh", "198.51.100.254", "--json"]),
            Ok((peer, true))
        );
        let err = parse(&["wharf", "bgp", "refresh", "router1"]).unwrap_err();
        assert!(err.contains("router1"), "{err}");
    }
}
