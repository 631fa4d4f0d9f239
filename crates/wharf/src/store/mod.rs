//! wharf's state on disk: a snapshot (`state.json`, replaced atomically: write a temporary
//! file, fsync it, rename it over the old one, fsync the directory) and a journal of the
//! changes since (`journal`, one line per committed change: the engine's [`Change`] records,
//! each the size of one allocation, endpoint or network, appended and fdatasync'd before
//! anyone hears of the change). The journal is folded into a new snapshot when the daemon
//! starts and whenever it has grown past both a fixed threshold and twice the last snapshot,
//! so a snapshot's cost, which grows with the state, is paid once per that many changes. A
//! crash at any point leaves a state that loads: a torn last journal line is a change never
//! acknowledged. A lock file keeps a second daemon off the same directory.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::{Change, State, OLDEST_STATE_VERSION, STATE_VERSION};

const STATE_FILE: &str = "state.json";
const JOURNAL_FILE: &str = "journal";
const LOCK_FILE: &str = "lock";
/// Journal size past which the next save writes a fresh snapshot instead.
const DEFAULT_COMPACT_AT: u64 = 4 << 20;

/// What to do about a snapshot that does not load: wharf would not guess at a damaged one.
const SNAPSHOT_ADVICE: &str = "restore it from a backup, or move it (and the journal beside it) \
    aside to start with an empty state: wharf then forgets its networks, and dockerd's networks of \
    this driver must be removed and made again";
/// What to do about a journal line that does not load (a torn last line is not one of them).
const JOURNAL_ADVICE: &str = "restore it from a backup, or move it aside to start from the \
    snapshot beside it: the changes made since that snapshot are then forgotten";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("state directory {0} is in use by another wharf daemon")]
    Locked(PathBuf),
    #[error("read {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {file} is not valid ({reason}); {advice}")]
    Corrupt {
        file: PathBuf,
        reason: String,
        advice: &'static str,
    },
    #[error("write {file}: {source}")]
    Write {
        file: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    /// Held for the daemon's lifetime; the OS releases it if the process dies.
    _lock: Option<File>,
    journal: Mutex<Journal>,
    compact_at: u64,
}

/// The open journal. `None` until the first save, and after a failed append (a partial line
/// may be in the file: the next save writes a snapshot and starts a new journal).
#[derive(Debug, Default)]
struct Journal {
    file: Option<File>,
    bytes: u64,
    /// Size of the last snapshot written: the journal may grow to twice that before the next.
    snapshot_bytes: u64,
}

/// Whether a change must be on disk before the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fdatasync'd before anyone hears of it.
    Synced,
    /// Written, and synced with the next synced change: for changes a crash may lose (which
    /// sandbox an endpoint joined, when it has nothing to redo there after a restart).
    Lazy,
}

impl Store {
    /// Opens the directory for a daemon: creates it (mode 0700) and takes its lock.
    pub fn open_exclusive(dir: &Path) -> Result<Store, StoreError> {
        create_private_dir(dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Dir {
                dir: dir.into(),
                source,
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(dir.into())),
            Err(fs::TryLockError::Error(source)) => {
                return Err(StoreError::Dir {
                    dir: dir.into(),
                    source,
                })
            }
        }
        Ok(Store {
            dir: dir.into(),
            _lock: Some(lock),
            journal: Mutex::new(Journal::default()),
            compact_at: DEFAULT_COMPACT_AT,
        })
    }

    /// Compacts when the journal passes `bytes` (tests use a small number).
    pub fn with_compaction_threshold(mut self, bytes: u64) -> Store {
        self.compact_at = bytes;
        self
    }

    /// Opens the directory read-only, for `wharf status` while the daemon is down.
    pub fn open_read_only(dir: &Path) -> Store {
        Store {
            dir: dir.into(),
            _lock: None,
            journal: Mutex::new(Journal::default()),
            compact_at: DEFAULT_COMPACT_AT,
        }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    /// The saved state (snapshot plus journal), or an empty one when none was ever saved.
    pub fn load(&self) -> Result<State, StoreError> {
        let mut state = self.load_snapshot()?;
        let file = self.journal_path();
        let text = match fs::read(&file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(state),
            Err(source) => return Err(StoreError::Read { file, source }),
        };
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        for (number, line) in lines.iter().enumerate() {
            let corrupt = |reason: String| StoreError::Corrupt {
                file: file.clone(),
                reason: format!("line {}: {reason}", number + 1),
                advice: JOURNAL_ADVICE,
            };
            match serde_json::from_str::<Vec<Change>>(line) {
                Ok(changes) => state
                    .apply_all(&changes)
                    .map_err(|e| corrupt(e.to_string()))?,
                // A torn last line is a change that was never acknowledged.
                Err(_) if number + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => return Err(corrupt(e.to_string())),
            }
        }
        Ok(state)
    }

    fn load_snapshot(&self) -> Result<State, StoreError> {
        let file = self.path();
        let bytes = match fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(State::new()),
            Err(source) => return Err(StoreError::Read { file, source }),
        };
        let mut state: State = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            file: file.clone(),
            reason: e.to_string(),
            advice: SNAPSHOT_ADVICE,
        })?;
        if !(OLDEST_STATE_VERSION..=STATE_VERSION).contains(&state.version) {
            return Err(StoreError::Corrupt {
                file,
                reason: format!(
                    "version {} where this wharf reads versions {OLDEST_STATE_VERSION} to {STATE_VERSION}",
                    state.version
                ),
                advice: "run the wharf that wrote it, or a newer one",
            });
        }
        // An older layout was converted as it was read; it is written back in this one.
        state.version = STATE_VERSION;
        Ok(state)
    }

    /// Saves committed changes: one journal line, or a new snapshot of `after` (the state
    /// with the changes applied) when the journal is not open yet or has grown enough.
    pub fn append(
        &self,
        changes: &[Change],
        after: &State,
        durability: Durability,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let limit = self.compact_at.max(2 * journal.snapshot_bytes);
        if journal.file.is_none() || journal.bytes >= limit {
            return self.compact(&mut journal, after);
        }
        let file = self.journal_path();
        let mut line = serde_json::to_vec(changes).map_err(|e| StoreError::Write {
            file: file.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push(b'\n');
        let appended = match journal.file.as_mut() {
            Some(out) => out.write_all(&line).and_then(|()| match durability {
                Durability::Synced => out.sync_data(),
                Durability::Lazy => Ok(()),
            }),
            None => Ok(()),
        };
        match appended {
            Ok(()) => {
                journal.bytes += line.len() as u64;
                Ok(())
            }
            Err(source) => {
                // The file may now end in a partial line: never append after it.
                journal.file = None;
                Err(StoreError::Write { file, source })
            }
        }
    }

    /// Writes `state` as the snapshot at once (the daemon's start, after loading).
    pub fn write_snapshot_now(&self, state: &State) -> Result<(), StoreError> {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        self.compact(&mut journal, state)
    }

    /// Writes `state` as the new snapshot, then starts an empty journal.
    fn compact(&self, journal: &mut Journal, state: &State) -> Result<(), StoreError> {
        let snapshot_bytes = self.write_snapshot(state)?;
        let file = self.journal_path();
        let out = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&file)
            .and_then(|out| out.sync_all().map(|()| out))
            .map_err(|source| StoreError::Write { file, source })?;
        *journal = Journal {
            file: Some(out),
            bytes: 0,
            snapshot_bytes,
        };
        Ok(())
    }

    /// Returns the snapshot's size.
    fn write_snapshot(&self, state: &State) -> Result<u64, StoreError> {
        let file = self.path();
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let write_err = |source| StoreError::Write {
            file: file.clone(),
            source,
        };
        // Compact JSON: at 10,000 endpoints the pretty form is a third larger to write.
        let bytes = serde_json::to_vec(state).map_err(|e| write_err(std::io::Error::other(e)))?;
        let mut out = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)
            .map_err(write_err)?;
        out.write_all(&bytes).map_err(write_err)?;
        out.sync_data().map_err(write_err)?;
        drop(out);
        fs::rename(&tmp, &file).map_err(write_err)?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(write_err)?;
        Ok(bytes.len() as u64)
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Dir {
            dir: dir.into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Allocation, Endpoint, Network, Pool};
    use imbl::OrdMap;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wharf-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn pool() -> Pool {
        Pool {
            id: "local/10.46.0.0/16".into(),
            address_space: "local".into(),
            subnet: "10.46.0.0/16".parse().unwrap(),
            range: None,
            from_defaults: false,
            allocations: OrdMap::new(),
            last_allocated: None,
            default_gateway: None,
        }
    }

    fn network() -> Network {
        Network {
            id: "n1".into(),
            mode: "routed".into(),
            name: None,
            mtu: 1500,
            internal: false,
            ipv6: false,
            subnets: vec![],
            config: serde_json::Value::Null,
            endpoints: OrdMap::new(),
        }
    }

    fn endpoint(i: usize) -> Endpoint {
        Endpoint {
            id: format!("{i:064x}"),
            host_ifname: format!("wh{i:010x}"),
            container_ifname: format!("wc{i:010x}"),
            mac: "02:00:00:00:00:01".into(),
            primary: vec![format!("10.46.0.{}/16", i + 2).parse().unwrap()],
            extra: vec![],
            sandbox: None,
        }
    }

    /// Commits `changes` one line each, the way the engine does; returns the state after.
    fn commit_each(store: &Store, mut state: State, changes: Vec<Change>) -> State {
        for change in changes {
            state.apply(&change).unwrap();
            store
                .append(std::slice::from_ref(&change), &state, Durability::Synced)
                .unwrap();
        }
        state
    }

    fn adding_endpoints(range: std::ops::Range<usize>) -> Vec<Change> {
        range
            .map(|i| Change::EndpointAdded {
                network: "n1".into(),
                endpoint: endpoint(i),
            })
            .collect()
    }

    #[test]
    fn changes_go_to_the_journal_and_load_replays_them() {
        let dir = temp_dir("journal");
        let store = Store::open_exclusive(&dir).unwrap();
        assert_eq!(store.load().unwrap(), State::new());
        let mut changes = vec![
            Change::PoolAdded { pool: pool() },
            Change::Allocated {
                pool: pool().id,
                address: "10.46.0.1".parse().unwrap(),
                allocation: Allocation::Gateway,
                cursor: None,
            },
            Change::NetworkAdded { network: network() },
        ];
        changes.extend(adding_endpoints(0..4));
        let state = commit_each(&store, State::new(), changes);
        // The first commit wrote the snapshot; the rest are journal lines, one per change,
        // each the size of what changed.
        let journal = fs::read_to_string(dir.join(JOURNAL_FILE)).unwrap();
        assert_eq!(journal.lines().count(), 6);
        assert!(journal.lines().all(|l| l.len() < 400), "{journal}");
        assert_eq!(store.load().unwrap(), state);
        let state = commit_each(
            &store,
            state,
            vec![
                Change::EndpointRemoved {
                    network: "n1".into(),
                    id: endpoint(1).id,
                },
                Change::NetworkRemoved { id: "n1".into() },
            ],
        );
        assert_eq!(Store::open_read_only(&dir).load().unwrap(), state);
        assert!(!dir.join("state.json.tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lazy_changes_are_written_too() {
        let dir = temp_dir("lazy");
        let store = Store::open_exclusive(&dir).unwrap();
        let mut state = commit_each(
            &store,
            State::new(),
            vec![Change::NetworkAdded { network: network() }],
        );
        let joined = Change::EndpointAdded {
            network: "n1".into(),
            endpoint: endpoint(7),
        };
        state.apply(&joined).unwrap();
        store
            .append(std::slice::from_ref(&joined), &state, Durability::Lazy)
            .unwrap();
        assert_eq!(store.load().unwrap(), state);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn second_daemon_is_locked_out() {
        let dir = temp_dir("lock");
        let first = Store::open_exclusive(&dir).unwrap();
        let second = Store::open_exclusive(&dir);
        assert!(matches!(second, Err(StoreError::Locked(_))));
        drop(first);
        assert!(Store::open_exclusive(&dir).is_ok());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_or_future_state_is_refused_with_advice() {
        let dir = temp_dir("corrupt");
        let store = Store::open_exclusive(&dir).unwrap();
        fs::write(store.path(), b"{not json").unwrap();
        let err = store.load().unwrap_err();
        assert!(
            err.to_string().contains("move it (and the journal"),
            "{err}"
        );
        fs::write(store.path(), br#"{"version":99,"pools":{},"networks":{}}"#).unwrap();
        assert!(store.load().unwrap_err().to_string().contains("version 99"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_version_one_snapshot_and_journal_load() {
        let dir = temp_dir("v1");
        let store = Store::open_exclusive(&dir).unwrap();
        fs::write(
            store.path(),
            br#"{"version":1,"pools":{},"networks":{"n1":{"id":"n1","mode":"macvlan","mtu":1500,
            "internal":false,"ipv6":false,"subnets":[],"endpoints":{},
            "attachment":{"parent":"eth1","kind":{"macvlan":{"mode":"bridge"}},"origin":"host"}}}}"#,
        )
        .unwrap();
        let line = format!(
            "[{{\"endpoint\":{{\"network\":\"n1\",\"id\":\"{}\",\"endpoint\":{}}}}}]\n",
            endpoint(3).id,
            serde_json::to_string(&endpoint(3)).unwrap()
        );
        fs::write(dir.join(JOURNAL_FILE), line).unwrap();
        let state = store.load().unwrap();
        assert_eq!(state.version, STATE_VERSION);
        let network = &state.networks["n1"];
        assert_eq!(network.config["parent"], "eth1");
        assert_eq!(network.endpoints.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_last_line_is_ignored_but_a_torn_middle_is_not() {
        let dir = temp_dir("torn");
        let store = Store::open_exclusive(&dir).unwrap();
        let mut changes = vec![Change::NetworkAdded { network: network() }];
        changes.extend(adding_endpoints(0..2));
        let state = commit_each(&store, State::new(), changes);
        let path = dir.join(JOURNAL_FILE);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("[{\"endpoint_added\":{\"netw");
        fs::write(&path, &text).unwrap();
        assert_eq!(store.load().unwrap(), state);
        text.push_str("\n[]\n");
        fs::write(&path, &text).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_record_that_does_not_fit_is_refused_naming_its_line() {
        let dir = temp_dir("misfit");
        let store = Store::open_exclusive(&dir).unwrap();
        commit_each(
            &store,
            State::new(),
            vec![Change::PoolAdded { pool: pool() }],
        );
        let line = serde_json::to_string(&adding_endpoints(0..1)).unwrap();
        fs::write(dir.join(JOURNAL_FILE), format!("{line}\n")).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("unknown network n1"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compaction_writes_a_snapshot_and_replaying_an_old_journal_is_harmless() {
        let dir = temp_dir("compact");
        let store = Store::open_exclusive(&dir)
            .unwrap()
            .with_compaction_threshold(1);
        let mut changes = vec![Change::NetworkAdded { network: network() }];
        changes.extend(adding_endpoints(0..1));
        let state = commit_each(&store, State::new(), changes);
        let old_journal = fs::read(dir.join(JOURNAL_FILE)).unwrap();
        assert!(!old_journal.is_empty());
        // Past the threshold (here: twice the tiny snapshot): a snapshot, then an empty journal.
        let state = commit_each(&store, state, adding_endpoints(1..40));
        let snapshot = fs::read(store.path()).unwrap();
        let journal = fs::read(dir.join(JOURNAL_FILE)).unwrap();
        assert!(journal.len() as u64 <= 2 * snapshot.len() as u64 + 400);
        assert_eq!(store.load().unwrap(), state);
        // A crash after a snapshot but before the journal was emptied.
        fs::write(dir.join(JOURNAL_FILE), &old_journal).unwrap();
        let mut expected = state.clone();
        expected.apply_all(&adding_endpoints(0..1)).unwrap();
        assert_eq!(store.load().unwrap(), expected);
        assert_eq!(expected, state);
        fs::remove_dir_all(&dir).unwrap();
    }
}
