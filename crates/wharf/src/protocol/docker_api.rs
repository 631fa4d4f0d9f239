//! Docker's own API, read for one thing: the names of its networks. Docker sends a network's
//! ID to its driver, never its name, yet users name networks (`accept_from=front`); wharf asks
//! dockerd for the names once a network exists there, in the background, never while a call
//! of Docker's waits on it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use crate::engine::Engine;
use crate::model::short_id;

/// More than any real network list; a larger answer is refused rather than read whole.
const MAX_ANSWER: u64 = 32 << 20;
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct DockerNetwork {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
}

/// `GET /networks` on dockerd's socket: network ID -> name.
pub fn network_names(socket: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut stream = UnixStream::connect(socket)
        .map_err(|e| format!("cannot reach dockerd at {}: {e}", socket.display()))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    // HTTP/1.0: the answer is not chunked and ends when dockerd closes the connection.
    stream
        .write_all(b"GET /networks HTTP/1.0\r\nHost: docker\r\n\r\n")
        .map_err(|e| format!("asking dockerd for its networks: {e}"))?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(|e| format!("reading dockerd's networks: {e}"))?;
    parse_answer(&answer)
}

fn parse_answer(answer: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("dockerd's answer has no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(format!(
            "dockerd answered {:?}",
            head.lines().next().unwrap_or_default()
        ));
    }
    let networks: Vec<DockerNetwork> = serde_json::from_slice(&answer[split + 4..])
        .map_err(|e| format!("dockerd's network list is not what wharf expects: {e}"))?;
    Ok(networks.into_iter().map(|n| (n.id, n.name)).collect())
}

/// Learns the names of wharf's networks from dockerd, a background thread per network.
pub struct NameLearner {
    socket: PathBuf,
    /// Networks a thread is learning the name of now.
    learning: Mutex<BTreeSet<String>>,
}

/// When to ask again for a network dockerd does not list yet: it stores a new network only
/// after its driver answered CreateNetwork.
const RETRIES: [Duration; 5] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
];

impl NameLearner {
    pub fn new(socket: PathBuf) -> Arc<NameLearner> {
        Arc::new(NameLearner {
            socket,
            learning: Mutex::new(BTreeSet::new()),
        })
    }

    /// Learns network `id`'s name (and any other unnamed network's) unless it is known.
    pub fn learn(self: &Arc<Self>, engine: &Arc<Engine>, id: &str) {
        if !engine.network_unnamed(id) {
            return;
        }
        if !self
            .learning
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned())
        {
            return;
        }
        let (learner, engine, id) = (self.clone(), engine.clone(), id.to_owned());
        let spawned = std::thread::Builder::new()
            .name("wharf-names".into())
            .spawn(move || {
                learner.ask(&engine, &id);
                learner
                    .learning
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start a thread to learn network names");
        }
    }

    fn ask(&self, engine: &Engine, id: &str) {
        for (attempt, delay) in RETRIES.iter().enumerate() {
            std::thread::sleep(*delay);
            match network_names(&self.socket) {
                Ok(names) => match engine.name_networks(&names) {
                    Ok(_) if !engine.network_unnamed(id) => return,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "could not record network names");
                        return;
                    }
                },
                Err(error) if attempt + 1 == RETRIES.len() => {
                    tracing::warn!(network = short_id(id), %error,
                        "could not learn the network's name; accept_from can name it by ID");
                }
                Err(error) => tracing::debug!(%error, "asking dockerd for network names"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_network_list_gives_names_by_id() {
        let answer = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n\
            [{\"Name\":\"front\",\"Id\":\"c0c0\",\"Driver\":\"wharf\",\"Labels\":{}},\
             {\"Name\":\"bridge\",\"Id\":\"b1\"}]\n";
        let names = parse_answer(answer).unwrap();
        assert_eq!(names["c0c0"], "front");
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn other_answers_are_errors_not_panics() {
        for answer in [
            &b""[..],
            b"HTTP/1.0 500 Internal Server Error\r\n\r\n{}",
            b"HTTP/1.0 200 OK\r\n\r\n{\"Id\":1}",
            b"HTTP/1.0 200 OK\r\n\r\n[{\"Id\":\"x\"}]",
            b"\xff\xfe\r\n\r\n",
        ] {
            assert!(parse_answer(answer).is_err());
        }
    }

    #[test]
    fn no_dockerd_is_an_error_naming_the_socket() {
        let err = network_names(Path::new("/nonexistent/docker.sock")).unwrap_err();
        assert!(err.contains("/nonexistent/docker.sock"), "{err}");
    }
}
