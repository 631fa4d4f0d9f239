//! Command-line interface: `wharf serve` and `wharf status`. Every default the daemon uses is
//! a flag here, so `wharf serve` with no flags runs on embedded defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

use crate::dataplane::DEFAULT_ROUTE_PROTOCOL;
use crate::engine::ipam::DefaultPools;
use crate::engine::options::{parse_mode, parse_mtu, NetworkDefaults};
use crate::engine::state::Mode;
use crate::engine::EngineConfig;

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
    Serve(ServeArgs),
    /// Show networks, endpoints, addresses and host routes (from the running daemon, or from
    /// the state file when it is down).
    Status(StatusArgs),
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
    /// Mode of networks created without `-o mode=...`.
    #[arg(long, default_value = "routed", value_parser = |s: &str| parse_mode(s).map_err(|e| e.to_string()))]
    pub mode: Mode,
    /// MTU of networks created without `-o mtu=...`.
    #[arg(long, default_value_t = 1500, value_parser = |s: &str| parse_mtu(s).map_err(|e| e.to_string()))]
    pub mtu: u32,
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
    /// Route protocol number that marks wharf's host routes (`ip route show proto N`).
    #[arg(long, default_value_t = DEFAULT_ROUTE_PROTOCOL, value_parser = clap::value_parser!(u8).range(5..=255))]
    pub route_protocol: u8,
    /// Seconds to wait for Docker to move an interface into its sandbox.
    #[arg(long, default_value_t = 30)]
    pub sandbox_timeout: u64,
    /// Log every plugin call and kernel change.
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
        Ok(EngineConfig {
            network_defaults: NetworkDefaults {
                mode: self.mode,
                mtu: self.mtu,
            },
            default_pools: DefaultPools {
                v4: self.default_pools.clone(),
                v4_prefix_len: self.default_pool_size,
                v6: self.default_pools_v6.clone(),
                v6_prefix_len: self.default_pool_v6_size,
            },
            sandbox_timeout: std::time::Duration::from_secs(self.sandbox_timeout),
        })
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
        assert_eq!(config.network_defaults, NetworkDefaults::default());
    }

    #[test]
    fn bad_flags_are_refused() {
        for argv in [
            &["wharf", "serve", "--mtu", "12"][..],
            &["wharf", "serve", "--mode", "bridge"],
            &["wharf", "serve", "--default-pool", "fd00:1::/48"],
            &["wharf", "serve", "--route-protocol", "2"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
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
}
