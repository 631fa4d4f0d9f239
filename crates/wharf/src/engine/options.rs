//! Network options: `-o key=value` from `docker network create` (strings under
//! `com.docker.network.generic`) plus Docker's own `--internal` and `--ipv6` flags. Unknown
//! keys and bad values are refused with a message naming them, before anything is made.

use serde_json::Value;

use super::error::{invalid, Result};
use super::state::Mode;
use crate::protocol::types::{Options, OPTION_ENABLE_IPV6, OPTION_GENERIC, OPTION_INTERNAL};

/// Defaults for options a network does not set (daemon flags may change them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDefaults {
    pub mode: Mode,
    pub mtu: u32,
}

impl Default for NetworkDefaults {
    fn default() -> Self {
        NetworkDefaults {
            mode: Mode::Routed,
            mtu: 1500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    pub mode: Mode,
    pub mtu: u32,
    pub internal: bool,
    pub ipv6: bool,
}

/// Option keys a wharf network accepts. Docker's bridge driver spells the MTU option
/// `com.docker.network.driver.mtu`; users who switch keep it.
const KNOWN: &[&str] = &["mode", "mtu", "com.docker.network.driver.mtu"];
pub const MIN_MTU: u32 = 68;
pub const MIN_MTU_IPV6: u32 = 1280;
pub const MAX_MTU: u32 = 65535;

pub fn parse_mode(text: &str) -> Result<Mode> {
    match text {
        "routed" => Ok(Mode::Routed),
        other => Err(invalid(format!(
            "option mode: {other:?} is not a wharf mode; use mode=routed"
        ))),
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
        mtu: defaults.mtu,
        internal: flag(options, OPTION_INTERNAL),
        ipv6: flag(options, OPTION_ENABLE_IPV6),
    };
    let generic = match options.get(OPTION_GENERIC) {
        None | Some(Value::Null) => return finish(parsed),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(invalid(format!(
                "network options must be key=value strings, got {other}"
            )))
        }
    };
    for (key, value) in generic {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match key.as_str() {
            "mode" => parsed.mode = parse_mode(&text)?,
            "mtu" | "com.docker.network.driver.mtu" => parsed.mtu = parse_mtu(&text)?,
            unknown => {
                return Err(invalid(format!(
                    "unknown option {unknown:?} for a wharf network; wharf takes: {}",
                    KNOWN.join(", ")
                )))
            }
        }
    }
    finish(parsed)
}

fn finish(parsed: NetworkOptions) -> Result<NetworkOptions> {
    if parsed.ipv6 && parsed.mtu < MIN_MTU_IPV6 {
        return Err(invalid(format!(
            "option mtu: {} is below {MIN_MTU_IPV6}, the smallest MTU IPv6 allows on an --ipv6 network",
            parsed.mtu
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
                mtu: 1500,
                internal: true,
                ipv6: false
            }
        );
        let parsed = parse_network_options(
            None,
            &NetworkDefaults {
                mtu: 9000,
                ..Default::default()
            },
        );
        assert_eq!(parsed.unwrap().mtu, 9000);
    }

    #[test]
    fn generic_options_are_checked() {
        let d = NetworkDefaults::default();
        let o = opts(json!({"com.docker.network.generic": {"mode": "routed", "mtu": "1400"}}));
        assert_eq!(parse_network_options(Some(&o), &d).unwrap().mtu, 1400);
        let o =
            opts(json!({"com.docker.network.generic": {"com.docker.network.driver.mtu": "9000"}}));
        assert_eq!(parse_network_options(Some(&o), &d).unwrap().mtu, 9000);
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
}
