//! The state file: one JSON document, replaced atomically (write a temporary file, fsync it,
//! rename it over the old one, fsync the directory), so a crash at any point leaves either
//! the old state or the new one. A lock file keeps a second daemon off the same directory.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::engine::state::{State, STATE_VERSION};

const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";

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
    #[error(
        "state file {file} is not valid ({reason}); move it away to start with an empty state"
    )]
    Corrupt { file: PathBuf, reason: String },
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
        })
    }

    /// Opens the directory read-only, for `wharf status` while the daemon is down.
    pub fn open_read_only(dir: &Path) -> Store {
        Store {
            dir: dir.into(),
            _lock: None,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The saved state, or an empty one when none was ever saved.
    pub fn load(&self) -> Result<State, StoreError> {
        let file = self.path();
        let bytes = match fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(State::new()),
            Err(source) => return Err(StoreError::Read { file, source }),
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(StoreError::Corrupt {
                file,
                reason: format!(
                    "version {} where this wharf reads version {STATE_VERSION}",
                    state.version
                ),
            });
        }
        Ok(state)
    }

    pub fn save(&self, state: &State) -> Result<(), StoreError> {
        let file = self.path();
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let write_err = |source| StoreError::Write {
            file: file.clone(),
            source,
        };
        let bytes =
            serde_json::to_vec_pretty(state).map_err(|e| write_err(std::io::Error::other(e)))?;
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
            .map_err(write_err)
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
    use crate::engine::state::{Allocation, Pool};

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wharf-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = temp_dir("roundtrip");
        let store = Store::open_exclusive(&dir).unwrap();
        assert_eq!(store.load().unwrap(), State::new());
        let mut state = State::new();
        let mut pool = Pool {
            id: "local/10.46.0.0/16".into(),
            address_space: "local".into(),
            subnet: "10.46.0.0/16".parse().unwrap(),
            range: None,
            from_defaults: false,
            allocations: Default::default(),
            last_allocated: None,
        };
        pool.allocations
            .insert("10.46.0.1".parse().unwrap(), Allocation::Gateway);
        state.pools.insert(pool.id.clone(), pool);
        store.save(&state).unwrap();
        assert_eq!(store.load().unwrap(), state);
        assert!(!dir.join("state.json.tmp").exists());
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
        assert!(err.to_string().contains("move it away"), "{err}");
        fs::write(store.path(), br#"{"version":99,"pools":{},"networks":{}}"#).unwrap();
        assert!(store.load().unwrap_err().to_string().contains("version 99"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
