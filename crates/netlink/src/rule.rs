//! Policy routing rules (`ip rule`): add (fail if present), delete, dump. A rule selects
//! packets (by source and/or destination prefix) and says which routing table the kernel
//! looks their destination up in, in order of priority ("pref", lowest first).
//!
//! Only the selectors and actions below are represented: a dumped rule that also selects by
//! something else (fwmark, iif, tos, uid range, ports...) is listed with those left out.

use std::net::IpAddr;

use crate::client::Netlink;
use crate::error::{tolerate, Error, Result};
use crate::route::Family;
use crate::rule_codec::{decode_rule, encode_rule, encode_rule_dump};
use crate::uapi::{FR_ACT_TO_TBL, NLM_F_CREATE, NLM_F_EXCL, RTM_DELRULE, RTM_GETRULE, RTM_NEWRULE};

/// A policy routing rule (`ip rule add pref 32000 from PREFIX to PREFIX lookup 100 proto 87`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub family: Family,
    /// FRA_PRIORITY (`pref N`): rules are tried lowest first. `None` on add lets the kernel
    /// pick (one below the first rule of non-zero priority), and on delete means "any
    /// priority". A dumped rule always has one: the kernel leaves FRA_PRIORITY out for 0
    /// (the `local` rule), which is decoded as `Some(0)`.
    pub priority: Option<u32>,
    /// FRA_TABLE (`lookup N`): any id up to 2^32-1; 254 is main, 255 local, 253 default.
    /// Sent in fib_rule_hdr.table too when below 256, as iproute2 does.
    pub table: u32,
    /// FRA_PROTOCOL (kernel 4.17+, `proto N`): who added the rule (wharf uses 87, the kernel's
    /// own rules are 2). `None` on add sends none (the kernel records 0); on delete it means
    /// "any protocol". Dumps from older kernels have none.
    pub protocol: Option<u8>,
    /// fib_rule_hdr.action (FR_ACT_*): 1, FR_ACT_TO_TBL, looks the table up.
    pub action: u8,
    /// FRA_DST and the header's dst_len (`to PREFIX`); `None` selects every destination
    /// (a /0 prefix is sent the same way).
    pub destination: Option<(IpAddr, u8)>,
    /// FRA_SRC and the header's src_len (`from PREFIX`); `None` is `from all`.
    pub source: Option<(IpAddr, u8)>,
    /// FRA_SUPPRESS_PREFIXLEN (`suppress_prefixlength N`): a route found in the table with a
    /// prefix this long or shorter is ignored, and the lookup goes on to the next rule.
    pub suppress_prefixlen: Option<u32>,
}

impl Rule {
    /// `pref priority from all lookup table proto protocol` of `family`.
    pub fn lookup(family: Family, priority: u32, table: u32, protocol: u8) -> Rule {
        Rule {
            family,
            priority: Some(priority),
            table,
            protocol: Some(protocol),
            action: FR_ACT_TO_TBL,
            destination: None,
            source: None,
            suppress_prefixlen: None,
        }
    }
}

impl Netlink {
    /// Adds a rule that must not exist yet (NLM_F_EXCL): the kernel would otherwise add a
    /// second, identical one. A rule equal in every field the kernel keeps (priority,
    /// prefixes, table, protocol, action...) is an error for which [`Error::is_exists`]
    /// holds.
    pub fn add_rule(&mut self, rule: &Rule) -> Result<()> {
        check_rule(rule)?;
        self.execute(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, &|m| {
            encode_rule(m, rule)
        })
    }

    /// Deletes the first rule (lowest priority) matching the fields given: the table, the
    /// action and the protocol when non-zero, the priority and the prefixes when set,
    /// suppress_prefixlen when set. A rule already gone is success.
    pub fn delete_rule(&mut self, rule: &Rule) -> Result<()> {
        check_rule(rule)?;
        let result = self.execute(RTM_DELRULE, 0, &|m| encode_rule(m, rule));
        tolerate(result, &[libc::ENOENT])
    }

    /// Lists every rule of one family, in the kernel's order (by priority).
    pub fn rules(&mut self, family: Family) -> Result<Vec<Rule>> {
        self.dump(RTM_GETRULE, &|m| encode_rule_dump(m, family), |m| {
            Ok(decode_rule(m)?.filter(|rule| rule.family == family))
        })
    }
}

/// Refuses, before anything is sent, what the kernel would refuse with a bare EINVAL: a
/// prefix of the other family, or longer than its addresses.
pub(crate) fn check_rule(rule: &Rule) -> Result<()> {
    for (what, selector) in [("to", rule.destination), ("from", rule.source)] {
        let Some((address, prefix_len)) = selector else {
            continue;
        };
        crate::address::check_prefix_len(address, prefix_len)?;
        if address.is_ipv4() != (rule.family == Family::V4) {
            return Err(Error::Invalid(format!(
                "rule {what} {address}/{prefix_len}: not an address of the rule's family ({:?})",
                rule.family
            )));
        }
    }
    Ok(())
}
