//! Policy routing rules against the real kernel, each test in a throwaway network namespace
//! (gone with its thread, whether the test passes or panics).
//! Needs root: `cargo test -p wharf-netlink --release -- --include-ignored`.

mod common;

use common::{in_new_netns, ip, ip_command};
use wharf_netlink::consts::{RT_TABLE_DEFAULT, RT_TABLE_LOCAL, RT_TABLE_MAIN};
use wharf_netlink::{Family, Netlink, Rule};

const WHARF: u8 = 87;
const RTPROT_KERNEL: u8 = 2;

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn rules_are_added_listed_refused_twice_and_deleted() {
    in_new_netns(|nl| {
        for (family, flag) in [(Family::V4, "-4"), (Family::V6, "-6")] {
            let rule = Rule::lookup(family, 32000, 100, WHARF);
            nl.add_rule(&rule).unwrap();
            let listed = at_priority(nl, family, 32000);
            assert_eq!(listed, std::slice::from_ref(&rule), "{family:?}");
            assert_eq!((listed[0].table, listed[0].protocol), (100, Some(WHARF)));
            let text = ip_command(&[flag, "rule", "show"]);
            assert!(
                text.contains("32000:\tfrom all lookup 100 proto 87"),
                "{text}"
            );

            let again = nl.add_rule(&rule).unwrap_err();
            assert!(again.is_exists(), "{family:?}: {again}");
            assert_eq!(again.errno(), Some(libc::EEXIST));
            assert_eq!(at_priority(nl, family, 32000).len(), 1, "{family:?}");

            nl.delete_rule(&rule).unwrap();
            assert!(at_priority(nl, family, 32000).is_empty(), "{family:?}");
            let text = ip_command(&[flag, "rule", "show"]);
            assert!(!text.contains("32000:"), "{text}");
            nl.delete_rule(&rule).expect("already gone is success");
        }
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn the_kernels_default_rules_decode_with_their_tables() {
    in_new_netns(|nl| {
        let kernel = |family, priority, table| Rule::lookup(family, priority, table, RTPROT_KERNEL);
        assert_eq!(
            nl.rules(Family::V4).unwrap(),
            [
                kernel(Family::V4, 0, RT_TABLE_LOCAL),
                kernel(Family::V4, 32766, RT_TABLE_MAIN),
                kernel(Family::V4, 32767, RT_TABLE_DEFAULT),
            ]
        );
        assert_eq!(
            nl.rules(Family::V6).unwrap(),
            [
                kernel(Family::V6, 0, RT_TABLE_LOCAL),
                kernel(Family::V6, 32766, RT_TABLE_MAIN),
            ]
        );
        let text = ip_command(&["-4", "rule", "show"]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "0:\tfrom all lookup local",
                "32766:\tfrom all lookup main",
                "32767:\tfrom all lookup default"
            ]
        );
    });
}

#[test]
#[ignore = "needs root and a throwaway network namespace; run by scripts/test"]
fn rules_with_prefixes_a_table_above_255_and_suppress_prefixlen() {
    in_new_netns(|nl| {
        let v4 = Rule {
            source: Some((ip("10.46.0.0"), 16)),
            destination: Some((ip("198.18.0.0"), 15)),
            ..Rule::lookup(Family::V4, 32000, 1000, WHARF)
        };
        let suppressing = Rule {
            suppress_prefixlen: Some(0),
            ..Rule::lookup(Family::V4, 32001, RT_TABLE_MAIN, WHARF)
        };
        let v6 = Rule {
            destination: Some((ip("fd4e:a::"), 48)),
            ..Rule::lookup(Family::V6, 32000, 70000, WHARF)
        };
        for rule in [&v4, &suppressing, &v6] {
            nl.add_rule(rule).unwrap();
        }
        assert_eq!(
            at_priority(nl, Family::V4, 32000),
            std::slice::from_ref(&v4)
        );
        assert_eq!(
            at_priority(nl, Family::V4, 32001),
            std::slice::from_ref(&suppressing)
        );
        assert_eq!(
            at_priority(nl, Family::V6, 32000),
            std::slice::from_ref(&v6)
        );
        let text = ip_command(&["-4", "rule", "show"]);
        assert!(
            text.contains("32000:\tfrom 10.46.0.0/16 to 198.18.0.0/15 lookup 1000 proto 87"),
            "{text}"
        );
        assert!(
            text.contains("32001:\tfrom all lookup main suppress_prefixlength 0 proto 87"),
            "{text}"
        );
        let text = ip_command(&["-6", "rule", "show"]);
        assert!(
            text.contains("32000:\tfrom all to fd4e:a::/48 lookup 70000 proto 87"),
            "{text}"
        );

        // A delete matches the fields it names: another protocol, or another prefix, is not
        // this rule (and "not there" is success).
        let other_protocol = Rule {
            protocol: Some(WHARF + 1),
            ..v4.clone()
        };
        nl.delete_rule(&other_protocol).unwrap();
        let other_source = Rule {
            source: Some((ip("10.47.0.0"), 16)),
            ..v4.clone()
        };
        nl.delete_rule(&other_source).unwrap();
        assert_eq!(
            at_priority(nl, Family::V4, 32000),
            std::slice::from_ref(&v4)
        );
        // Without priority and protocol, the first rule of the prefixes and table goes.
        let loose = Rule {
            priority: None,
            protocol: None,
            ..v4.clone()
        };
        nl.delete_rule(&loose).unwrap();
        assert!(at_priority(nl, Family::V4, 32000).is_empty());

        nl.delete_rule(&suppressing).unwrap();
        nl.delete_rule(&v6).unwrap();
        let ours = |nl: &mut Netlink, family| {
            nl.rules(family)
                .unwrap()
                .into_iter()
                .filter(|r| r.protocol == Some(WHARF))
                .count()
        };
        assert_eq!((ours(nl, Family::V4), ours(nl, Family::V6)), (0, 0));
    });
}

/// The rules of `family` at `priority`.
fn at_priority(nl: &mut Netlink, family: Family, priority: u32) -> Vec<Rule> {
    nl.rules(family)
        .unwrap()
        .into_iter()
        .filter(|r| r.priority == Some(priority))
        .collect()
}
