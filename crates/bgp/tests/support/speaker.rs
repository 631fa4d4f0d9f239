//! The speaker's side of the interoperability tests: a sink collecting route changes, the
//! speaker's configuration for the lab's peer, and polling helpers.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use wharf_bgp::fsm::State;
use wharf_bgp::policy::PeerImport;
use wharf_bgp::rib::RouteChange;
use wharf_bgp::speaker::{PeerSpec, RouteSink, Speaker, SpeakerConfig};

use super::{PEER_V4, SPEAKER_V4};

#[derive(Clone, Default)]
pub struct Collect(Arc<Mutex<Vec<RouteChange>>>);

impl RouteSink for Collect {
    fn apply(&mut self, changes: &[RouteChange]) {
        self.0.lock().unwrap().extend_from_slice(changes);
    }
}

impl Collect {
    /// Every change given to the sink so far, in order.
    pub fn all(&self) -> Vec<RouteChange> {
        self.0.lock().unwrap().clone()
    }

    pub fn next_hops(&self, prefix: &str) -> Option<Vec<IpAddr>> {
        let prefix: IpNet = prefix.parse().unwrap();
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|c| c.prefix == prefix)
            .map(|c| c.next_hops.clone())
    }
}

pub fn speaker_config(passive: bool, peer_as: u32) -> SpeakerConfig {
    SpeakerConfig {
        asn: 65001,
        router_id: SPEAKER_V4.parse().unwrap(),
        port: 179,
        listen: true,
        peers: vec![PeerSpec {
            address: PEER_V4.parse().unwrap(),
            asn: peer_as,
            passive,
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            graceful_restart: Some(30),
            import: PeerImport::default(),
            export: Default::default(),
            transport: Default::default(),
            max_prefixes: None,
        }],
        protected: vec![SPEAKER_V4.parse().unwrap()],
        restarted: false,
        interface_addresses: None,
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub async fn state(speaker: &Speaker) -> State {
    speaker
        .neighbors()
        .await
        .first()
        .map(|n| n.state)
        .unwrap_or(State::Idle)
}

pub async fn wait_for(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every state each neighbor was seen in, polled every 20 ms for `duration` (a state held for
/// less than that may be missed: the checks built on this look for states that last).
pub async fn states_seen(speaker: &Speaker, duration: Duration) -> Vec<(IpAddr, Vec<State>)> {
    let end = tokio::time::Instant::now() + duration;
    let mut seen: Vec<(IpAddr, Vec<State>)> = Vec::new();
    while tokio::time::Instant::now() < end {
        for n in speaker.neighbors().await {
            match seen.iter_mut().find(|(a, _)| *a == n.address) {
                Some((_, states)) if !states.contains(&n.state) => states.push(n.state),
                Some(_) => {}
                None => seen.push((n.address, vec![n.state])),
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}
