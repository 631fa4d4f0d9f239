use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::Error;

/// Where ovsdb-server listens, in the notation OVS itself uses for active remotes
/// (`ovs-vsctl --db=...`): `unix:PATH` or `tcp:IP:PORT`. Only IP addresses are
/// accepted for TCP: resolving names is the caller's business, and an OVSDB remote
/// given by name would hide which address was actually used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Endpoint {
    pub fn parse(input: &str) -> Result<Endpoint, Error> {
        let fail = |reason| Error::Endpoint {
            input: input.to_string(),
            reason,
        };
        if let Some(path) = input.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(fail("empty socket path"));
            }
            Ok(Endpoint::Unix(PathBuf::from(path)))
        } else if let Some(addr) = input.strip_prefix("tcp:") {
            SocketAddr::from_str(addr)
                .map(Endpoint::Tcp)
                .map_err(|_| fail("not an IP address and port"))
        } else if input.starts_with("ssl:") {
            Err(fail("SSL is not supported"))
        } else {
            Err(fail("unknown scheme"))
        }
    }
}

impl FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Endpoint, Error> {
        Endpoint::parse(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            // SocketAddr brackets IPv6 addresses, which is what parse() expects back.
            Endpoint::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_back() {
        for text in [
            "unix:/var/run/openvswitch/db.sock",
            "tcp:127.0.0.1:6640",
            "tcp:[::1]:6640",
        ] {
            let endpoint = Endpoint::parse(text).unwrap();
            assert_eq!(endpoint.to_string(), text);
        }
        assert_eq!(
            Endpoint::parse("tcp:[::1]:6640").unwrap(),
            Endpoint::Tcp("[::1]:6640".parse().unwrap())
        );
        assert_eq!(
            Endpoint::parse("unix:db.sock").unwrap(),
            Endpoint::Unix("db.sock".into())
        );
    }

    #[test]
    fn rejects_with_the_expected_forms() {
        for (text, reason) in [
            ("unix:", "empty socket path"),
            ("tcp:127.0.0.1", "not an IP address and port"),
            ("tcp:localhost:6640", "not an IP address and port"),
            ("tcp:::1:6640", "not an IP address and port"),
            ("ssl:127.0.0.1:6640", "SSL is not supported"),
            ("/var/run/openvswitch/db.sock", "unknown scheme"),
        ] {
            let message = Endpoint::parse(text).unwrap_err().to_string();
            assert!(message.contains(reason), "{text}: {message}");
            assert!(message.contains("expected unix:PATH"), "{message}");
            assert!(message.contains(text), "{message}");
        }
    }
}
