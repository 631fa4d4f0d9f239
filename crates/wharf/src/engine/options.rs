//! Network options: `-o key=value` from `docker network create` (strings under
//! `com.docker.network.generic`) plus Docker's own `--internal` and `--ipv6` flags. Unknown
//! keys and bad values are refused with a message naming them, before anything is made.

use serde_json::Value;

use super::error::{invalid, Result};
use super::state::{IpvlanFlag, IpvlanMode, MacvlanMode, Mode};
use crate::protocol::types::{Options, OPTION_ENABLE_IPV6, OPTION_GENERIC, OPTION_INTERNAL};

/// Defaults for options a network does not set (daemon flags may change them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDefaults {
    pub mode: Mode,
    pub mtu: u32,
    /// `ipvlan_mode` of ipvlan networks that set none (the seed's `--mode l2|l3`).
    pub ipvlan_mode: IpvlanMode,
    /// Parent of macvlan/ipvlan networks that name none (`--host-interface`).
    pub parent: Option<String>,
}

impl Default for NetworkDefaults {
    fn default() -> Self {
        NetworkDefaults {
            mode: Mode::Routed,
            mtu: 1500,
            ipvlan_mode: IpvlanMode::L2,
            parent: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    pub mode: Mode,
    /// The MTU asked for; None: the mode's default (the daemon's for routed networks, the
    /// parent's for macvlan).
    pub mtu: Option<u32>,
    pub internal: bool,
    pub ipv6: bool,
    /// `parent` (macvlan, ipvlan), or the daemon's `--host-interface`; None: the mode's
    /// default (see the engine).
    pub parent: Option<String>,
    pub macvlan_mode: MacvlanMode,
    pub ipvlan_mode: IpvlanMode,
    pub ipvlan_flag: IpvlanFlag,
    /// `host_shim`: give the host an interface on the network to reach its containers.
    pub host_shim: bool,
}

/// Option keys a wharf network accepts, by mode. Docker's bridge driver spells the MTU
/// option `com.docker.network.driver.mtu`; users who switch keep it, and Docker's macvlan
/// and ipvlan option names work unchanged.
const COMMON: &[&str] = &["mode", "mtu", "com.docker.network.driver.mtu"];
const MACVLAN: &[&str] = &["parent", "macvlan_mode", "host_shim"];
const IPVLAN: &[&str] = &["parent", "ipvlan_mode", "ipvlan_flag", "host_shim"];

fn mode_keys(mode: Mode) -> &'static [&'static str] {
    match mode {
        Mode::Routed => &[],
        Mode::Macvlan => MACVLAN,
        Mode::Ipvlan => IPVLAN,
    }
}

pub fn parse_ipvlan_mode(text: &str) -> Result<IpvlanMode> {
    match text {
        "l2" => Ok(IpvlanMode::L2),
        "l3" => Ok(IpvlanMode::L3),
        "l3s" => Ok(IpvlanMode::L3s),
        other => Err(invalid(format!(
            "option ipvlan_mode: {other:?} is not an ipvlan mode; use l2, l3 or l3s"
        ))),
    }
}

pub fn parse_ipvlan_flag(text: &str) -> Result<IpvlanFlag> {
    match text {
        "bridge" => Ok(IpvlanFlag::Bridge),
        "private" => Ok(IpvlanFlag::Private),
        "vepa" => Ok(IpvlanFlag::Vepa),
        other => Err(invalid(format!(
            "option ipvlan_flag: {other:?} is not an ipvlan flag; use bridge, private or vepa"
        ))),
    }
}

/// The spellings of Go's strconv.ParseBool, which Docker's own drivers use for options.
fn parse_bool(key: &str, text: &str) -> Result<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(invalid(format!(
            "option {key}: {other:?} is not a boolean; use true or false"
        ))),
    }
}

pub fn parse_macvlan_mode(text: &str) -> Result<MacvlanMode> {
    match text {
        "bridge" => Ok(MacvlanMode::Bridge),
        "private" => Ok(MacvlanMode::Private),
        "vepa" => Ok(MacvlanMode::Vepa),
        "passthru" => Ok(MacvlanMode::Passthru),
        other => Err(invalid(format!(
            "option macvlan_mode: {other:?} is not a macvlan mode; use bridge, private, vepa or passthru"
        ))),
    }
}
pub const MIN_MTU: u32 = 68;
pub const MIN_MTU_IPV6: u32 = 1280;
pub const MAX_MTU: u32 = 65535;

pub fn parse_mode(text: &str) -> Result<Mode> {
    match text {
        "routed" => Ok(Mode::Routed),
        "macvlan" => Ok(Mode::Macvlan),
        "ipvlan" => Ok(Mode::Ipvlan),
        other => Err(invalid(format!(
            "option mode: {other:?} is not a wharf mode; use routed, macvlan or ipvlan"
        ))),
    }
}

/// The daemon's `--mode`: a wharf mode, or, as the ipvlan plugin wharf grew from took it,
/// an ipvlan mode (`l2`, `l3`, `l3s`), which means ipvlan networks in that mode.
pub fn parse_daemon_mode(text: &str) -> Result<(Mode, Option<IpvlanMode>)> {
    match parse_ipvlan_mode(text) {
        Ok(ipvlan) => Ok((Mode::Ipvlan, Some(ipvlan))),
        Err(_) => parse_mode(text).map(|mode| (mode, None)).map_err(|_| {
            invalid(format!(
                "--mode {text:?} is neither a wharf mode (routed, macvlan, ipvlan) nor an \
                 ipvlan mode (l2, l3, l3s)"
            ))
        }),
    }
}

pub fn parse_mtu(text: &str) -> Result<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|mtu| (MIN_MTU..=MAX_MTU).contains(mtu))
        .ok_or_else(|| {
            invalid(format!(
                "option mtu: {text:?} is not a number between {MIN_MTU} and {MAX_MTU}"
            ))
        })
}

/// Docker sends booleans as JSON booleans, older versions as strings.
fn flag(options: &Options, key: &str) -> bool {
    match options.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

pub fn parse_network_options(
    options: Option<&Options>,
    defaults: &NetworkDefaults,
) -> Result<NetworkOptions> {
    let empty = Options::new();
    let options = options.unwrap_or(&empty);
    let mut parsed = NetworkOptions {
        mode: defaults.mode,
        mtu: None,
        internal: flag(options, OPTION_INTERNAL),
        ipv6: flag(options, OPTION_ENABLE_IPV6),
        parent: None,
        macvlan_mode: MacvlanMode::Bridge,
        ipvlan_mode: defaults.ipvlan_mode,
        ipvlan_flag: IpvlanFlag::Bridge,
        host_shim: false,
    };
    let generic = match options.get(OPTION_GENERIC) {
        None | Some(Value::Null) => return finish(parsed, defaults),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(invalid(format!(
                "network options must be key=value strings, got {other}"
            )))
        }
    };
    let text = |value: &Value| match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // The mode first: which other keys are allowed depends on it.
    if let Some(mode) = generic.get("mode") {
        parsed.mode = parse_mode(&text(mode))?;
    }
    let allowed = [COMMON, mode_keys(parsed.mode)].concat();
    for (key, value) in generic {
        let value = text(value);
        if !allowed.contains(&key.as_str()) {
            let modes: Vec<&str> = [Mode::Macvlan, Mode::Ipvlan]
                .into_iter()
                .filter(|mode| mode_keys(*mode).contains(&key.as_str()))
                .map(Mode::name)
                .collect();
            return Err(invalid(if !modes.is_empty() {
                format!(
                    "option {key:?} applies to {} networks, not to mode={}",
                    modes.join(" and "),
                    parsed.mode.name()
                )
            } else {
                format!(
                    "unknown option {key:?} for a wharf {} network; wharf takes: {}",
                    parsed.mode.name(),
                    allowed.join(", ")
                )
            }));
        }
        match key.as_str() {
            "mtu" | "com.docker.network.driver.mtu" => parsed.mtu = Some(parse_mtu(&value)?),
            "parent" if value.trim().is_empty() => {
                return Err(invalid(
                    "option parent is empty: name an interface, e.g. parent=eth1",
                ))
            }
            "parent" => parsed.parent = Some(value.trim().to_owned()),
            "macvlan_mode" => parsed.macvlan_mode = parse_macvlan_mode(&value)?,
            "ipvlan_mode" => parsed.ipvlan_mode = parse_ipvlan_mode(&value)?,
            "ipvlan_flag" => parsed.ipvlan_flag = parse_ipvlan_flag(&value)?,
            "host_shim" => parsed.host_shim = parse_bool(key, &value)?,
            _ => {}
        }
    }
    finish(parsed, defaults)
}

fn finish(mut parsed: NetworkOptions, defaults: &NetworkDefaults) -> Result<NetworkOptions> {
    if parsed.mode == Mode::Routed && parsed.mtu.is_none() {
        parsed.mtu = Some(defaults.mtu);
    }
    if parsed.mode != Mode::Routed && parsed.parent.is_none() {
        parsed.parent = defaults.parent.clone();
    }
    if let Some(mtu) = parsed.mtu.filter(|mtu| parsed.ipv6 && *mtu < MIN_MTU_IPV6) {
        return Err(invalid(format!(
            "option mtu: {mtu} is below {MIN_MTU_IPV6}, the smallest MTU IPv6 allows on an --ipv6 network"
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(value: Value) -> Options {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn defaults_and_docker_flags() {
        let o = opts(json!({"com.docker.network.internal": true,
            "com.docker.network.enable_ipv6": false, "com.docker.network.generic": {}}));
        let parsed = parse_network_options(Some(&o), &NetworkDefaults::default()).unwrap();
        assert_eq!(
            parsed,
            NetworkOptions {
                mode: Mode::Routed,
                mtu: Some(1500),
                internal: true,
                ipv6: false,
                parent: None,
                macvlan_mode: MacvlanMode::Bridge,
                ipvlan_mode: IpvlanMode::L2,
                ipvlan_flag: IpvlanFlag::Bridge,
                host_shim: false,
            }
        );
        let parsed = parse_network_options(
            None,
            &NetworkDefaults {
                mtu: 9000,
                ..Default::default()
            },
        );
        assert_eq!(parsed.unwrap().mtu, Some(9000));
    }

    #[test]
    fn generic_options_are_checked() {
        let d = NetworkDefaults::default();
        let o = opts(json!({"com.docker.network.generic": {"mode": "routed", "mtu": "1400"}}));
        assert_eq!(parse_network_options(Some(&o), &d).unwrap().mtu, Some(1400));
        let o =
            opts(json!({"com.docker.network.generic": {"com.docker.network.driver.mtu": "9000"}}));
        assert_eq!(parse_network_options(Some(&o), &d).unwrap().mtu, Some(9000));
        for (options, needle) in [
            (json!({"bogus": "1"}), "\"bogus\""),
            (json!({"mtu": "abc"}), "option mtu"),
            (json!({"mtu": "70000"}), "option mtu"),
            (json!({"mode": "nope"}), "option mode"),
        ] {
            let o = opts(json!({ "com.docker.network.generic": options }));
            let err = parse_network_options(Some(&o), &d).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let o = opts(json!({"com.docker.network.enable_ipv6": true,
            "com.docker.network.generic": {"mtu": "1200"}}));
        assert!(parse_network_options(Some(&o), &d).is_err());
    }

    #[test]
    fn macvlan_options_and_their_mode() {
        let d = NetworkDefaults::default();
        let o = opts(json!({"com.docker.network.generic":
            {"mode": "macvlan", "parent": "eth1", "macvlan_mode": "vepa"}}));
        let parsed = parse_network_options(Some(&o), &d).unwrap();
        assert_eq!(parsed.mode, Mode::Macvlan);
        assert_eq!(parsed.parent.as_deref(), Some("eth1"));
        assert_eq!(parsed.macvlan_mode, MacvlanMode::Vepa);
        // No MTU asked for: the parent's, decided when the parent is known.
        assert_eq!(parsed.mtu, None);
        for (options, needle) in [
            (
                json!({"mode": "macvlan", "macvlan_mode": "nope"}),
                "option macvlan_mode",
            ),
            (
                json!({"parent": "eth1"}),
                "applies to macvlan and ipvlan networks",
            ),
            (
                json!({"mode": "macvlan", "ipvlan_mode": "l3"}),
                "applies to ipvlan networks, not to mode=macvlan",
            ),
            (
                json!({"mode": "macvlan", "parent": ""}),
                "option parent is empty",
            ),
            (json!({"mode": "macvlan", "bogus": "1"}), "\"bogus\""),
        ] {
            let o = opts(json!({ "com.docker.network.generic": options }));
            let err = parse_network_options(Some(&o), &d).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn ipvlan_options_and_daemon_defaults() {
        let d = NetworkDefaults {
            ipvlan_mode: IpvlanMode::L3,
            parent: Some("eth1".into()),
            ..Default::default()
        };
        let o = opts(json!({"com.docker.network.generic": {"mode": "ipvlan"}}));
        let parsed = parse_network_options(Some(&o), &d).unwrap();
        assert_eq!(
            (parsed.mode, parsed.ipvlan_mode, parsed.parent.as_deref()),
            (Mode::Ipvlan, IpvlanMode::L3, Some("eth1"))
        );
        let o = opts(json!({"com.docker.network.generic": {"mode": "ipvlan",
            "ipvlan_mode": "l3s", "ipvlan_flag": "private", "parent": "eth2.30",
            "host_shim": "true"}}));
        let parsed = parse_network_options(Some(&o), &d).unwrap();
        assert_eq!(parsed.ipvlan_mode, IpvlanMode::L3s);
        assert_eq!(parsed.ipvlan_flag, IpvlanFlag::Private);
        assert_eq!(parsed.parent.as_deref(), Some("eth2.30"));
        assert!(parsed.host_shim);
        // Routed networks have no parent, whatever --host-interface says.
        assert_eq!(parse_network_options(None, &d).unwrap().parent, None);
        for (options, needle) in [
            (
                json!({"mode": "ipvlan", "ipvlan_mode": "l4"}),
                "option ipvlan_mode",
            ),
            (
                json!({"mode": "ipvlan", "ipvlan_flag": "x"}),
                "option ipvlan_flag",
            ),
            (
                json!({"mode": "ipvlan", "host_shim": "maybe"}),
                "option host_shim",
            ),
            (
                json!({"mode": "ipvlan", "macvlan_mode": "vepa"}),
                "applies to macvlan",
            ),
        ] {
            let o = opts(json!({ "com.docker.network.generic": options }));
            let err = parse_network_options(Some(&o), &d).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        assert_eq!(
            parse_daemon_mode("l3").unwrap(),
            (Mode::Ipvlan, Some(IpvlanMode::L3))
        );
        assert_eq!(parse_daemon_mode("macvlan").unwrap(), (Mode::Macvlan, None));
        assert!(parse_daemon_mode("l4")
            .unwrap_err()
            .to_string()
            .contains("\"l4\""));
    }
}
