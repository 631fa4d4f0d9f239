//! Running code inside another network namespace without ever changing the namespace of the
//! calling thread: the work runs on a dedicated thread that enters the namespace and ends with
//! it. Sockets opened there stay bound to that namespace after the thread is gone.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::thread;

use crate::error::{Error, Result};
use crate::sys;

/// Runs `work` on a new thread inside the network namespace at `path` and returns its result.
/// A panic in `work` is propagated to the caller.
pub fn run_in_netns<T, F>(path: &Path, work: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let namespace = File::open(path).map_err(|error| {
        Error::Io(std::io::Error::new(
            error.kind(),
            format!("open network namespace {}: {error}", path.display()),
        ))
    })?;
    run_on_thread(move || {
        sys::enter_network_namespace(namespace.as_fd()).map_err(|error| {
            Error::Io(std::io::Error::new(
                error.kind(),
                format!("enter network namespace {}: {error}", path.display()),
            ))
        })?;
        Ok(work())
    })
}

/// Runs `work` on a new thread inside a new, empty network namespace (only `lo`, down) and
/// returns its result. The namespace disappears when the thread ends, unless something
/// created in it (a socket, a bind mount) keeps it alive. Meant for tests and measurements
/// that must not touch the host's namespace. A panic in `work` is propagated to the caller.
pub fn run_in_new_netns<T, F>(work: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    run_on_thread(move || {
        sys::unshare_network_namespace().map_err(|error| {
            Error::Io(std::io::Error::new(
                error.kind(),
                format!("unshare network namespace: {error}"),
            ))
        })?;
        Ok(work())
    })
}

fn run_on_thread<T: Send>(work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    thread::scope(|scope| {
        thread::Builder::new()
            .name("wharf-netns".into())
            .spawn_scoped(scope, work)
            .map_err(Error::Io)?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
