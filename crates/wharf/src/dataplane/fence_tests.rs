use super::*;

const A: &str = "aaaaaaaaaaaa00000000000000000000000000000000000000000000000000000000";
const B: &str = "bbbbbbbbbbbb00000000000000000000000000000000000000000000000000000000";

fn fence(prefixes: &[&str], accepts: Accepts) -> Fence {
    Fence {
        prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
        internal: false,
        accepts,
    }
}

fn none() -> Accepts {
    Accepts::Networks(BTreeSet::new())
}

#[test]
fn no_fences_means_no_table() {
    let script = full_script(&Fences::new());
    assert_eq!(
        script, "add table inet wharf\ndelete table inet wharf\n",
        "the table goes with the last fence"
    );
}

#[test]
fn a_network_drops_other_wharf_networks_and_accepts_its_own() {
    let fences = Fences::from([
        (A.into(), fence(&["10.81.0.0/24", "fd81::/64"], none())),
        (B.into(), fence(&["10.83.0.5/24"], none())),
    ]);
    let script = full_script(&fences);
    for line in [
        "add element inet wharf to4 { 10.81.0.0/24 : jump in_aaaaaaaaaaaa }",
        "add element inet wharf to6 { fd81::/64 : jump in_aaaaaaaaaaaa }",
        // Host bits are cut off: nftables takes a prefix, not an address.
        "add element inet wharf all4 { 10.83.0.0/24 }",
        "add rule inet wharf in_bbbbbbbbbbbb ip saddr @n_bbbbbbbbbbbb_4 return",
        "add rule inet wharf in_bbbbbbbbbbbb ip saddr @all4 drop",
    ] {
        assert!(script.contains(line), "{line:?} missing from:\n{script}");
    }
    assert!(!script.contains("ip saddr @n_aaaaaaaaaaaa_4 return\nadd rule inet wharf in_bbbb"));
}

#[test]
fn an_accepted_network_is_let_in_before_the_drop() {
    let old = Fences::from([
        (A.into(), fence(&["10.81.0.0/24"], none())),
        (B.into(), fence(&["10.83.0.0/24"], none())),
    ]);
    let mut new = old.clone();
    new.get_mut(B).unwrap().accepts = Accepts::Networks(BTreeSet::from([A.to_string()]));
    let script = change_script(&old, &new).unwrap();
    assert_eq!(
        script,
        "flush chain inet wharf in_bbbbbbbbbbbb
add rule inet wharf in_bbbbbbbbbbbb ip saddr @n_bbbbbbbbbbbb_4 return
add rule inet wharf in_bbbbbbbbbbbb ip6 saddr @n_bbbbbbbbbbbb_6 return
add rule inet wharf in_bbbbbbbbbbbb ip saddr @n_aaaaaaaaaaaa_4 return
add rule inet wharf in_bbbbbbbbbbbb ip6 saddr @n_aaaaaaaaaaaa_6 return
add rule inet wharf in_bbbbbbbbbbbb ip saddr @all4 drop
add rule inet wharf in_bbbbbbbbbbbb ip6 saddr @all6 drop
",
        "only the accepting network's chain changes"
    );
    assert_eq!(change_script(&new, &new), None);
}

#[test]
fn a_network_that_goes_is_unreferenced_before_its_set_is_deleted() {
    let old = Fences::from([
        (A.into(), fence(&["10.81.0.0/24"], none())),
        (
            B.into(),
            fence(
                &["10.83.0.0/24"],
                Accepts::Networks(BTreeSet::from([A.to_string()])),
            ),
        ),
    ]);
    let new = Fences::from([(B.into(), old[B].clone())]);
    let script = change_script(&old, &new).unwrap();
    let at = |needle: &str| {
        script
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{script}"))
    };
    assert!(
        at("delete element inet wharf to4 { 10.81.0.0/24 }")
            < at("delete chain inet wharf in_aaaaaaaaaaaa")
    );
    assert!(
        at("flush chain inet wharf in_bbbbbbbbbbbb") < at("delete set inet wharf n_aaaaaaaaaaaa_4")
    );
    assert!(!script.contains("@n_aaaaaaaaaaaa_4 return"), "{script}");
}

#[test]
fn an_internal_network_drops_everything_from_outside_and_to_outside() {
    let mut internal = fence(&["10.85.0.0/24"], none());
    internal.internal = true;
    let script = full_script(&Fences::from([(A.into(), internal)]));
    for line in [
        "add element inet wharf from4 { 10.85.0.0/24 : jump out_aaaaaaaaaaaa }",
        "add rule inet wharf in_aaaaaaaaaaaa drop",
        "add rule inet wharf out_aaaaaaaaaaaa ip daddr @all4 return",
        "add rule inet wharf out_aaaaaaaaaaaa drop",
    ] {
        assert!(script.contains(line), "{line:?} missing from:\n{script}");
    }
}

#[test]
fn accepting_everything_leaves_the_chain_empty() {
    let fences = Fences::from([(A.into(), fence(&["10.81.0.0/24"], Accepts::Everywhere))]);
    let script = full_script(&fences);
    assert!(
        !script.contains("add rule inet wharf in_aaaaaaaaaaaa"),
        "{script}"
    );
}
