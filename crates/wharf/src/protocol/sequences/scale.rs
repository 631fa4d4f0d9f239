//! What one change costs must not grow with the number of containers: the journal record of
//! the 1,000th endpoint is the size of the first's, and the state is not copied per change.

use super::*;

fn endpoint_id(i: usize) -> String {
    format!("{:010x}{}", i + 1, "0".repeat(54))
}

#[test]
fn a_change_records_one_endpoint_whatever_the_number_of_endpoints() {
    let f = fixture("scale-journal");
    let pool = create_network(&f, json!({})).unwrap();
    let journal = f.dir.as_ref().unwrap().join("journal");
    let mut sizes = Vec::new();
    for i in 0..1000 {
        let before = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
        create_endpoint(&f, &pool, &endpoint_id(i), None, json!({})).unwrap();
        let after = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
        sizes.push(after.saturating_sub(before));
    }
    // Two records each (the address, then the endpoint), a few hundred bytes, whatever came
    // before; a compaction may empty the journal once in a while (size 0).
    let (first, last) = (sizes[1], sizes[999]);
    assert!(first > 0 && first < 1024, "{sizes:?}");
    assert!(last <= first + 16, "first {first} bytes, last {last}");
    assert_eq!(f.engine.state().networks[NET].endpoints.len(), 1000);
}

#[test]
fn parallel_endpoints_on_one_network_all_get_made_and_distinct_addresses() {
    let f = fixture("scale-parallel");
    let pool = create_network(&f, json!({})).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let f = &f;
            let pool = &pool;
            scope.spawn(move || {
                for i in 0..25 {
                    create_endpoint(f, pool, &endpoint_id(t * 100 + i), None, json!({})).unwrap();
                }
            });
        }
    });
    let state = f.engine.state();
    let endpoints = &state.networks[NET].endpoints;
    assert_eq!(endpoints.len(), 200);
    let mut addresses: Vec<_> = endpoints.values().flat_map(|e| e.addresses()).collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 200);
    assert_eq!(f.kernel.routes().len(), 200);
}

#[test]
fn an_endpoint_id_or_link_name_in_use_is_refused_before_anything_is_made() {
    let f = fixture("scale-clash");
    let pool = create_network(&f, json!({})).unwrap();
    create_endpoint(&f, &pool, EP_A, None, json!({})).unwrap();
    f.kernel.clear_calls();
    let again = create_endpoint(&f, &pool, EP_A, None, json!({})).unwrap_err();
    assert_eq!(again.to_string(), "endpoint dabd00000000 already exists");
    // Another ID with the same first ten digits would get the same link names.
    let twin = "dabd000000ffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    let clash = create_endpoint(&f, &pool, twin, None, json!({})).unwrap_err();
    assert_eq!(
        clash.to_string(),
        "endpoint dabd00000000 (link whdabd000000) already exists"
    );
    assert!(
        !f.kernel
            .calls()
            .iter()
            .any(|c| matches!(c, Call::CreateVeth(_))),
        "{:?}",
        f.kernel.calls()
    );
    // Once it is gone, its names are free again.
    f.plugin.delete_endpoint(&ep(EP_A)).unwrap();
    create_endpoint(&f, &pool, twin, None, json!({})).unwrap();
}
