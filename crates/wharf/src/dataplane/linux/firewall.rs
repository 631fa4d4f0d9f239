//! The accept rules forwarded traffic on wharf's links needs when dockerd (with its iptables
//! firewall) has set the filter table's FORWARD policy to DROP. An accept in a table of our
//! own cannot override a drop in another table's base chain on the same hook, so the rules go
//! into `filter FORWARD` itself, through the `iptables` binary (iptables-nft on Debian 12),
//! marked with a comment, and at its end: after dockerd's jump to `DOCKER-USER`, the chain
//! Docker documents for the operator's own rules, which must see wharf's containers' traffic
//! first (dockerd puts that jump first when it starts, whatever is there already).
//! Where there is no DROP policy and no `DOCKER-USER` (no dockerd, `--iptables=false`, its
//! nftables backend) nothing is added; nor where there is no `iptables` at all.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dataplane::{DataplaneError, GATEWAY_PORT_PREFIX, HOST_LINK_PREFIX};

const COMMENT: &str = "wharf";
/// Where iptables lives when PATH lacks the sbin directories (services started oddly).
const EXTRA_DIRECTORIES: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
/// `-D` removes one copy of a rule per call; a bound keeps a rule that will not go away (a
/// broken binary answering "present" forever) from looping.
const MAX_DELETES: usize = 64;

/// The jump dockerd puts first in FORWARD, to the chain for the operator's rules.
const DOCKER_USER_JUMP: &str = "-A FORWARD -j DOCKER-USER";

pub(super) fn ensure_accept_rules(ipv6: bool) -> Result<(), DataplaneError> {
    for tool in tools(ipv6) {
        let listing = list_forward(&tool)?;
        let dropping = listing.iter().any(|line| line == "-P FORWARD DROP");
        let user_jump = listing.iter().position(|line| line == DOCKER_USER_JUMP);
        if !dropping && user_jump.is_none() {
            continue;
        }
        for rule in rules() {
            let line = format!("-A FORWARD {}", rule.join(" "));
            match listing.iter().position(|l| *l == line) {
                None => run(&tool, "-A", &rule, &[])?,
                // Above the operator's rules (an earlier wharf inserted it first): a copy at
                // the end, then the first copy goes, so the traffic is never without one.
                Some(at) if user_jump.is_some_and(|jump| at < jump) => {
                    run(&tool, "-A", &rule, &[])?;
                    run(&tool, "-D", &rule, &[])?;
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// `<tool> -S FORWARD`: the chain's policy and rules, one per line.
fn list_forward(tool: &Path) -> Result<Vec<String>, DataplaneError> {
    let output = Command::new(tool)
        .args(["-w", "-t", "filter", "-S", "FORWARD"])
        .output()
        .map_err(|error| failure(tool, "-S", &[], error.to_string()))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(failure(tool, "-S", &[], message));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.trim().to_owned())
        .collect())
}

/// Deletes exactly the rules `ensure_accept_rules` adds, from both address families.
pub(super) fn remove_accept_rules() -> Result<(), DataplaneError> {
    for tool in tools(true) {
        for rule in rules() {
            for _ in 0..MAX_DELETES {
                if !rule_present(&tool, &rule)? {
                    break;
                }
                run(&tool, "-D", &rule, &[])?;
            }
        }
    }
    Ok(())
}

/// `-i wh+ … -j ACCEPT`, `-o wh+ … -j ACCEPT`, and the same for `wg+`, as arguments after
/// the chain name: routed networks' host ends, and Open vSwitch nat networks' gateway ports.
fn rules() -> Vec<Vec<String>> {
    let mut rules = Vec::new();
    for prefix in [HOST_LINK_PREFIX, GATEWAY_PORT_PREFIX] {
        for direction in ["-i", "-o"] {
            rules.push(rule(direction, &format!("{prefix}+")));
        }
    }
    rules
}

fn rule(direction: &str, links: &str) -> Vec<String> {
    [
        direction,
        links,
        "-m",
        "comment",
        "--comment",
        COMMENT,
        "-j",
        "ACCEPT",
    ]
    .map(String::from)
    .to_vec()
}

/// The installed binaries among `iptables` and (if asked) `ip6tables`.
fn tools(ipv6: bool) -> Vec<PathBuf> {
    let names: &[&str] = if ipv6 {
        &["iptables", "ip6tables"]
    } else {
        &["iptables"]
    };
    names.iter().filter_map(|name| find_binary(name)).collect()
}

pub(super) fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRECTORIES.iter().map(PathBuf::from))
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

/// `-C`: exit status 0 = present, 1 = absent (also when the table does not exist yet).
fn rule_present(tool: &Path, rule: &[String]) -> Result<bool, DataplaneError> {
    let output = command(tool, "-C", rule, &[])
        .output()
        .map_err(|error| failure(tool, "-C", rule, error.to_string()))?;
    match output.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(failure(
            tool,
            "-C",
            rule,
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        )),
    }
}

fn run(
    tool: &Path,
    action: &str,
    rule: &[String],
    position: &[&str],
) -> Result<(), DataplaneError> {
    let output = command(tool, action, rule, position)
        .output()
        .map_err(|error| failure(tool, action, rule, error.to_string()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(failure(
        tool,
        action,
        rule,
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    ))
}

/// `<tool> -w -t filter <action> FORWARD [position] <rule>`; `-w` waits for the xtables lock
/// instead of failing when another program holds it.
fn command(tool: &Path, action: &str, rule: &[String], position: &[&str]) -> Command {
    let mut command = Command::new(tool);
    command
        .args(["-w", "-t", "filter", action, "FORWARD"])
        .args(position)
        .args(rule);
    command
}

fn failure(tool: &Path, action: &str, rule: &[String], message: String) -> DataplaneError {
    DataplaneError::other(
        format!("{} {action} FORWARD {}", tool.display(), rule.join(" ")),
        message,
    )
}
