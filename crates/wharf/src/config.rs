//! `wharf serve --config FILE`: the settings a command line cannot carry comfortably, in TOML:
//! this host's blocks of subnets that span hosts, and the BGP speaker's. The flags override
//! the file: any `--host-block` replaces the file's list, `--bgp-asn` and `--bgp-router-id`
//! theirs, and a `--bgp-peer` the file's peer of the same address.
//!
//! ```toml
//! host_blocks = ["10.90.1.0/24"] # as --host-block
//! routing = "bgp"                # as --routing: bgp or external
//! route_table = 100              # as --route-table (a number; main is 254)
//!
//! [bgp]
//! asn = 65001
//! router_id = "198.51.100.1"
//!
//! [[bgp.peer]]
//! address = "198.51.100.254"
//! asn = 65000
//! password = "s3cret"          # TCP MD5 (RFC 2385)
//! hold_time = 90
//! passive = false
//! graceful_restart = 120       # seconds; 0: not offered
//! ttl_security = false         # GTSM (RFC 5082)
//! allow_default = false        # accept a default route from this peer
//! import = ["10.0.0.0/8 le 32"] # only these prefixes (PREFIX [ge N] [le M])
//! export = ["10.60.0.0/16 le 32"] # only these of ours go to the peer
//! communities = ["65001:100"]  # on every route sent (also "no-export", "no-advertise")
//! max_prefixes = 100000
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use wharf_bgp::policy::PrefixFilter;
use wharf_bgp::wire::Community;

use crate::routing::{BgpSettings, PeerSettings};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// As `--host-block`: this host's blocks of subnets that span hosts.
    #[serde(default, deserialize_with = "host_blocks")]
    pub host_blocks: Vec<IpNet>,
    /// As `--routing`: wharf's own BGP speaker, or a routing daemon beside it.
    #[serde(default)]
    pub routing: Option<crate::model::Routing>,
    /// As `--route-table`.
    #[serde(default)]
    pub route_table: Option<u32>,
    #[serde(default)]
    pub bgp: Option<BgpFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpFile {
    pub asn: Option<u32>,
    pub router_id: Option<Ipv4Addr>,
    #[serde(default, rename = "peer")]
    pub peers: Vec<PeerFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerFile {
    pub address: IpAddr,
    pub asn: u32,
    pub password: Option<String>,
    pub hold_time: Option<u16>,
    #[serde(default)]
    pub passive: bool,
    pub graceful_restart: Option<u16>,
    #[serde(default)]
    pub ttl_security: bool,
    #[serde(default)]
    pub allow_default: bool,
    #[serde(default)]
    pub import: Vec<String>,
    /// Only these of this host's prefixes go to the peer (PREFIX [ge N] [le M]).
    #[serde(default)]
    pub export: Vec<String>,
    /// Attached to every route sent to the peer: "ASN:VALUE", "no-export", "no-advertise".
    #[serde(default)]
    pub communities: Vec<String>,
    pub max_prefixes: Option<usize>,
}

/// Blocks as `--host-block` takes them: CIDRs without host bits.
fn host_blocks<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(from)?
        .iter()
        .map(|text| {
            crate::engine::ipam::parse_prefix("host block", text).map_err(serde::de::Error::custom)
        })
        .collect()
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the configuration {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("configuration {}: {e}", path.display()))
    }
}

/// `PREFIX [ge N] [le M]`: PREFIX and, by default, exactly its own length.
pub fn parse_filter(text: &str) -> Result<PrefixFilter, String> {
    let mut words = text.split_whitespace();
    let prefix: IpNet = words
        .next()
        .ok_or_else(|| "an empty prefix filter".to_owned())?
        .parse()
        .map_err(|_| format!("filter {text:?}: not PREFIX [ge N] [le M]"))?;
    let bits = if prefix.addr().is_ipv4() { 32 } else { 128 };
    let (mut min, mut max) = (prefix.prefix_len(), prefix.prefix_len());
    let mut max_given = false;
    while let Some(word) = words.next() {
        let value: u8 = words
            .next()
            .and_then(|v| v.parse().ok())
            .filter(|v| *v <= bits)
            .ok_or_else(|| format!("filter {text:?}: {word} needs a length up to {bits}"))?;
        match word {
            "ge" => {
                min = value;
                if !max_given {
                    max = bits;
                }
            }
            "le" => {
                max = value;
                max_given = true;
            }
            _ => return Err(format!("filter {text:?}: {word:?} is not ge or le")),
        }
    }
    if min < prefix.prefix_len() || min > max {
        return Err(format!(
            "filter {text:?}: lengths must satisfy {} <= ge <= le",
            prefix.prefix_len()
        ));
    }
    Ok(PrefixFilter {
        prefix: prefix.trunc(),
        min_len: min,
        max_len: max,
    })
}

/// `ASN:VALUE` (each 0-65535) or a well-known community's name (RFC 1997).
pub fn parse_community(text: &str) -> Result<Community, String> {
    match text.trim() {
        "no-export" => return Ok(Community::NO_EXPORT),
        "no-advertise" => return Ok(Community::NO_ADVERTISE),
        _ => {}
    }
    let parts = text.trim().split_once(':');
    let number = |t: &str| t.parse::<u16>().ok();
    match parts.and_then(|(a, v)| Some((number(a)?, number(v)?))) {
        Some((asn, value)) => Ok(Community(u32::from(asn) << 16 | u32::from(value))),
        None => Err(format!(
            "community {text:?}: not ASN:VALUE (each 0-65535), no-export or no-advertise"
        )),
    }
}

impl PeerFile {
    fn settings(&self) -> Result<PeerSettings, String> {
        let filters = |list: &[String]| {
            list.iter()
                .map(|f| parse_filter(f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("peer {}: {e}", self.address))
        };
        let import = filters(&self.import)?;
        let export = filters(&self.export)?;
        let communities = self
            .communities
            .iter()
            .map(|c| parse_community(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("peer {}: {e}", self.address))?;
        if self.hold_time.is_some_and(|h| h == 1 || h == 2) {
            return Err(format!(
                "peer {}: hold_time is 0 or at least 3 seconds (RFC 4271)",
                self.address
            ));
        }
        Ok(PeerSettings {
            address: self.address,
            asn: self.asn,
            password: self.password.clone(),
            hold_time: self.hold_time.unwrap_or(90),
            passive: self.passive,
            graceful_restart: match self.graceful_restart {
                Some(0) => None,
                Some(t) => Some(t),
                None => Some(120),
            },
            ttl_security: self.ttl_security,
            allow_default: self.allow_default,
            import,
            export,
            communities,
            max_prefixes: self.max_prefixes,
        })
    }
}

/// The speaker's settings from the file and the flags (flags win); None: no BGP.
pub fn bgp_settings(
    file: Option<&BgpFile>,
    asn: Option<u32>,
    router_id: Option<Ipv4Addr>,
    flag_peers: &[(IpAddr, u32)],
    port: u16,
) -> Result<Option<BgpSettings>, String> {
    let asn = asn.or(file.and_then(|f| f.asn));
    let router_id = router_id.or(file.and_then(|f| f.router_id));
    let mut peers: Vec<PeerSettings> = file
        .map(|f| {
            f.peers
                .iter()
                .map(PeerFile::settings)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    for (address, peer_as) in flag_peers {
        peers.retain(|p| p.address != *address);
        peers.push(PeerSettings::new(*address, *peer_as));
    }
    let Some(asn) = asn else {
        if !peers.is_empty() || router_id.is_some() {
            return Err("BGP peers or a router ID are set but no AS number: give --bgp-asn (or asn under [bgp])".into());
        }
        return Ok(None);
    };
    let router_id = router_id
        .ok_or("BGP needs a router ID: give --bgp-router-id (or router_id under [bgp])")?;
    if peers.is_empty() {
        return Err(
            "BGP needs at least one peer: give --bgp-peer ADDRESS@ASN (or a [[bgp.peer]])".into(),
        );
    }
    Ok(Some(BgpSettings {
        asn,
        router_id,
        peers,
        port,
        connect_retry: Duration::from_secs(5),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gives_host_blocks_and_refuses_what_is_not_one() {
        let file: FileConfig =
            toml::from_str(r#"host_blocks = ["10.90.1.0/24", "fd90:1::/64"]"#).unwrap();
        assert_eq!(file.host_blocks.len(), 2);
        for (text, why) in [("10.90.1.0/33", "/33"), ("10.90.1.5/24", "10.90.1.0/24")] {
            let bad = toml::from_str::<FileConfig>(&format!("host_blocks = [\"{text}\"]"))
                .unwrap_err()
                .to_string();
            assert!(bad.contains("host_blocks") && bad.contains(why), "{bad}");
        }
    }

    #[test]
    fn a_file_gives_peers_and_flags_override_it() {
        let file: FileConfig = toml::from_str(
            r#"
            [bgp]
            asn = 65001
            router_id = "198.51.100.1"
            [[bgp.peer]]
            address = "198.51.100.254"
            asn = 65000
            password = "pw"
            import = ["10.0.0.0/8 le 32", "fd00::/8 ge 48 le 64"]
            export = ["10.60.0.0/16 le 32"]
            communities = ["65001:100", "no-export"]
            max_prefixes = 10
            [[bgp.peer]]
            address = "198.51.100.253"
            asn = 65002
            "#,
        )
        .unwrap();
        let settings = bgp_settings(
            file.bgp.as_ref(),
            Some(65005),
            None,
            &[("198.51.100.253".parse().unwrap(), 65009)],
            179,
        )
        .unwrap()
        .unwrap();
        assert_eq!(settings.asn, 65005, "the flag wins");
        assert_eq!(settings.router_id, Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(settings.peers.len(), 2);
        let first = &settings.peers[0];
        assert_eq!(first.password.as_deref(), Some("pw"));
        assert_eq!(first.max_prefixes, Some(10));
        assert_eq!(first.import[0].max_len, 32);
        assert_eq!((first.import[1].min_len, first.import[1].max_len), (48, 64));
        assert_eq!(first.export[0].prefix.to_string(), "10.60.0.0/16");
        assert_eq!(
            first.communities,
            vec![Community(0xFDE9_0064), Community::NO_EXPORT]
        );
        assert_eq!(
            settings.peers[1].asn, 65009,
            "the flag's peer replaces the file's"
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (text, reason) in [
            ("[bgp]\nasn = 1\nrouter_id = \"x\"", "router_id"),
            (
                "[bgp]\nasn = 1\n[[bgp.peer]]\naddress = \"198.51.100.2\"\nasn = 2\ncolour = 1",
                "colour",
            ),
            ("[routing]\n", "routing"),
        ] {
            let err = toml::from_str::<FileConfig>(text).unwrap_err().to_string();
            assert!(err.contains(reason), "{err}");
        }
        assert!(parse_filter("10.0.0.0/8 le 33")
            .unwrap_err()
            .contains("up to 32"));
        assert!(parse_filter("10.0.0.0/8 ge 4")
            .unwrap_err()
            .contains("8 <= ge"));
        for bad in ["65536:1", "1:x", "100", ""] {
            assert!(
                parse_community(bad).unwrap_err().contains("ASN:VALUE"),
                "{bad}"
            );
        }
        let no_asn = bgp_settings(
            None,
            None,
            None,
            &[("198.51.100.2".parse().unwrap(), 1)],
            179,
        );
        assert!(no_asn.unwrap_err().contains("no AS number"));
        let no_peer = bgp_settings(None, Some(1), Some(Ipv4Addr::LOCALHOST), &[], 179);
        assert!(no_peer.unwrap_err().contains("at least one peer"));
    }
}
