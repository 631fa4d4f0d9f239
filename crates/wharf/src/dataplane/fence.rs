//! Fences: what keeps wharf's routed networks apart, as the nftables table `inet wharf` holds
//! them. The host routes between every pair of routed networks, so without a fence a container
//! of one network reaches every other; Docker's users expect each network to be an isolation
//! domain. The rules match addresses (each network's subnets), not interfaces, so they keep
//! working when a network's subnet spans hosts and its traffic arrives from another router.
//!
//! The table:
//! - `forward` (hook forward): established and related traffic passes; then the destination
//!   picks the chain of the network it belongs to (`to4`/`to6`, verdict maps of subnets), and
//!   the source of an internal network picks that network's `out` chain (`from4`/`from6`).
//! - `in_<net>`: traffic to a network passes if it comes from the network itself or from a
//!   network it accepts; traffic from any other wharf network (`all4`/`all6`) is dropped, and
//!   for an internal network everything else is dropped too.
//! - `out_<net>` (internal networks): traffic leaving for anything but a wharf network drops.
//! - `n_<net>_4`/`n_<net>_6`: a network's subnets, the sets the chains match on.
//!
//! Every change is one nftables transaction (one `nft -f` script): the table is never seen
//! half-changed. This module writes the scripts; [`super::linux`] runs them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use ipnet::IpNet;

/// The nftables table wharf owns (family `inet`).
pub const FENCE_TABLE: &str = "wharf";

/// One routed network's fence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The network's subnets.
    pub prefixes: Vec<IpNet>,
    /// Nothing but the network itself (and the networks it accepts) reaches it, and it
    /// reaches no address outside wharf's networks.
    pub internal: bool,
    pub accepts: Accepts,
}

/// Which other networks may open connections to a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepts {
    /// Every network (`accept_from=*`).
    Everywhere,
    /// These networks (IDs of networks that have fences), and no other wharf network.
    Networks(BTreeSet<String>),
}

/// Every fence, by network ID.
pub type Fences = BTreeMap<String, Fence>;

/// The part of a network ID that names its chains and sets (Docker's short ID: 12 digits).
fn key(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect()
}

/// A family's prefixes, without host bits (nftables takes none).
fn v4(prefixes: &[IpNet]) -> Vec<IpNet> {
    prefixes
        .iter()
        .filter(|p| p.addr().is_ipv4())
        .map(IpNet::trunc)
        .collect()
}

fn v6(prefixes: &[IpNet]) -> Vec<IpNet> {
    prefixes
        .iter()
        .filter(|p| p.addr().is_ipv6())
        .map(IpNet::trunc)
        .collect()
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

fn prefix_list(prefixes: &[IpNet]) -> String {
    list(&prefixes.iter().map(IpNet::to_string).collect::<Vec<_>>())
}

/// A script that replaces the whole table by one holding `fences` (none: no table at all).
pub fn full_script(fences: &Fences) -> String {
    let mut script = String::new();
    // Declaring the table first makes the delete valid whether or not it exists.
    let _ = writeln!(script, "add table inet {FENCE_TABLE}");
    let _ = writeln!(script, "delete table inet {FENCE_TABLE}");
    if fences.is_empty() {
        return script;
    }
    // Chains first: nftables (1.0.6, seen here) cannot point a map's element at a chain
    // made after the map in the same transaction.
    let _ = writeln!(script, "add table inet {FENCE_TABLE}");
    for (id, fence) in fences {
        let _ = writeln!(script, "add chain inet {FENCE_TABLE} in_{}", key(id));
        if fence.internal {
            let _ = writeln!(script, "add chain inet {FENCE_TABLE} out_{}", key(id));
        }
    }
    let _ = write!(
        script,
        "table inet {FENCE_TABLE} {{
  comment \"wharf: isolation between wharf's networks; changed only by wharf\"
  set all4 {{ type ipv4_addr; flags interval; }}
  set all6 {{ type ipv6_addr; flags interval; }}
  map to4 {{ type ipv4_addr : verdict; flags interval; }}
  map to6 {{ type ipv6_addr : verdict; flags interval; }}
  map from4 {{ type ipv4_addr : verdict; flags interval; }}
  map from6 {{ type ipv6_addr : verdict; flags interval; }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    ip daddr vmap @to4
    ip6 daddr vmap @to6
    ip saddr vmap @from4
    ip6 saddr vmap @from6
  }}
}}
"
    );
    script.push_str(&change_script(&Fences::new(), fences).unwrap_or_default());
    script
}

/// A script that changes a table holding `old` into one holding `new` without replacing it;
/// None when they are the same. `old` must not be empty unless `new` is (an empty `old` has
/// no table: use [`full_script`]).
pub fn change_script(old: &Fences, new: &Fences) -> Option<String> {
    if old == new {
        return None;
    }
    if new.is_empty() {
        return Some(full_script(new));
    }
    let mut script = String::new();
    // A network whose subnets or internal flag changed is taken out of the shared sets and
    // maps and put back (networks' settings do not change in practice; this keeps it simple).
    let moved = |id: &String| {
        let settings = |f: &Fence| (f.prefixes.clone(), f.internal);
        old.get(id).map(settings) != new.get(id).map(settings)
    };
    let was_internal = |id: &String| old.get(id).is_some_and(|f| f.internal);
    // 1. Elements of networks that went or moved go first, so new ones never overlap them.
    for (id, fence) in old.iter().filter(|(id, _)| moved(id)) {
        elements(&mut script, "delete", id, fence);
    }
    // 2. New chains and sets.
    for id in new.keys().filter(|id| !old.contains_key(*id)) {
        let k = key(id);
        for (family, kind) in [("4", "ipv4_addr"), ("6", "ipv6_addr")] {
            let _ = writeln!(
                script,
                "add set inet {FENCE_TABLE} n_{k}_{family} {{ type {kind}; flags interval; }}"
            );
        }
        let _ = writeln!(script, "add chain inet {FENCE_TABLE} in_{k}");
    }
    for (id, _) in new.iter().filter(|(id, f)| f.internal && !was_internal(id)) {
        let _ = writeln!(script, "add chain inet {FENCE_TABLE} out_{}", key(id));
    }
    // 3. The networks' own sets, then every chain whose rules differ.
    for (id, fence) in new.iter().filter(|(id, _)| moved(id)) {
        let k = key(id);
        for (family, prefixes) in [("4", v4(&fence.prefixes)), ("6", v6(&fence.prefixes))] {
            let _ = writeln!(script, "flush set inet {FENCE_TABLE} n_{k}_{family}");
            if !prefixes.is_empty() {
                let _ = writeln!(
                    script,
                    "add element inet {FENCE_TABLE} n_{k}_{family} {{ {} }}",
                    prefix_list(&prefixes)
                );
            }
        }
    }
    for (id, fence) in new {
        let rules = in_rules(id, fence, new);
        if old.get(id).map(|b| in_rules(id, b, old)).as_ref() != Some(&rules) {
            rewrite(&mut script, &format!("in_{}", key(id)), &rules);
        }
        if fence.internal && !was_internal(id) {
            rewrite(&mut script, &format!("out_{}", key(id)), &out_rules(id));
        }
    }
    // 4. Elements that point at the chains, now that the chains are ready.
    for (id, fence) in new.iter().filter(|(id, _)| moved(id)) {
        elements(&mut script, "add", id, fence);
    }
    // 5. Chains and sets nothing points at any more.
    for (id, fence) in old {
        let k = key(id);
        if fence.internal && !new.get(id).is_some_and(|f| f.internal) {
            let _ = writeln!(script, "delete chain inet {FENCE_TABLE} out_{k}");
        }
        if !new.contains_key(id) {
            let _ = writeln!(script, "delete chain inet {FENCE_TABLE} in_{k}");
            let _ = writeln!(script, "delete set inet {FENCE_TABLE} n_{k}_4");
            let _ = writeln!(script, "delete set inet {FENCE_TABLE} n_{k}_6");
        }
    }
    Some(script)
}

/// Adds or deletes a network's elements of the shared sets and maps.
fn elements(script: &mut String, verb: &str, id: &str, fence: &Fence) {
    let k = key(id);
    // A map's element is deleted by its key alone.
    let entry = |p: &IpNet, chain: &str| match verb {
        "delete" => p.to_string(),
        _ => format!("{p} : jump {chain}_{k}"),
    };
    for (family, prefixes) in [("4", v4(&fence.prefixes)), ("6", v6(&fence.prefixes))] {
        if prefixes.is_empty() {
            continue;
        }
        let _ = writeln!(
            script,
            "{verb} element inet {FENCE_TABLE} all{family} {{ {} }}",
            prefix_list(&prefixes)
        );
        let jumps: Vec<String> = prefixes.iter().map(|p| entry(p, "in")).collect();
        let _ = writeln!(
            script,
            "{verb} element inet {FENCE_TABLE} to{family} {{ {} }}",
            list(&jumps)
        );
    }
    if !fence.internal {
        return;
    }
    for (family, prefixes) in [("4", v4(&fence.prefixes)), ("6", v6(&fence.prefixes))] {
        if prefixes.is_empty() {
            continue;
        }
        let jumps: Vec<String> = prefixes.iter().map(|p| entry(p, "out")).collect();
        let _ = writeln!(
            script,
            "{verb} element inet {FENCE_TABLE} from{family} {{ {} }}",
            list(&jumps)
        );
    }
}

fn rewrite(script: &mut String, chain: &str, rules: &[String]) {
    let _ = writeln!(script, "flush chain inet {FENCE_TABLE} {chain}");
    for rule in rules {
        let _ = writeln!(script, "add rule inet {FENCE_TABLE} {chain} {rule}");
    }
}

/// Rules of the chain traffic to network `id` goes through.
fn in_rules(id: &str, fence: &Fence, all: &Fences) -> Vec<String> {
    let mut from: Vec<&str> = vec![id];
    if let Accepts::Networks(accepted) = &fence.accepts {
        from.extend(
            accepted
                .iter()
                .filter(|a| a.as_str() != id && all.contains_key(*a))
                .map(String::as_str),
        );
    }
    let mut rules = Vec::new();
    for source in from {
        let k = key(source);
        rules.push(format!("ip saddr @n_{k}_4 return"));
        rules.push(format!("ip6 saddr @n_{k}_6 return"));
    }
    match (&fence.accepts, fence.internal) {
        (_, true) => rules.push("drop".into()),
        (Accepts::Networks(_), false) => {
            rules.push("ip saddr @all4 drop".into());
            rules.push("ip6 saddr @all6 drop".into());
        }
        (Accepts::Everywhere, false) => rules.clear(),
    }
    rules
}

/// Rules of the chain traffic from internal network `id` goes through: only wharf's networks
/// (whose own chains then decide) are reachable.
fn out_rules(id: &str) -> Vec<String> {
    let k = key(id);
    vec![
        format!("ip daddr @n_{k}_4 return"),
        format!("ip6 daddr @n_{k}_6 return"),
        "ip daddr @all4 return".into(),
        "ip6 daddr @all6 return".into(),
        "drop".into(),
    ]
}

#[cfg(test)]
#[path = "fence_tests.rs"]
mod tests;
