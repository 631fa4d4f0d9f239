//! Deletes links in the background. The kernel's link delete blocks ~20 ms on an RCU grace
//! period (NOTES.md: 18-20 ms here, most of netavark's teardown), which Docker would otherwise
//! wait for on every `docker rm`. By the time a link is queued here the endpoint is already
//! gone from the saved state, so a crash before the delete leaves a wharf-marked link that no
//! endpoint owns, and reconciliation deletes it at the next start.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crate::dataplane::Dataplane;

pub struct LinkReaper {
    queue: Mutex<Option<Sender<String>>>,
    pending: Arc<(Mutex<usize>, Condvar)>,
}

impl LinkReaper {
    pub fn new(dataplane: Arc<dyn Dataplane>) -> LinkReaper {
        let (send, receive) = channel::<String>();
        let pending = Arc::new((Mutex::new(0usize), Condvar::new()));
        let counter = pending.clone();
        let spawned = thread::Builder::new()
            .name("wharf-link-reaper".into())
            .spawn(move || {
                for link in receive {
                    if let Err(e) = dataplane.delete_link(&link) {
                        tracing::error!(link = %link, error = %e,
                            "deleting a link failed; it is retried at the next start");
                    }
                    let (count, done) = &*counter;
                    let mut count = count.lock().unwrap_or_else(|e| e.into_inner());
                    *count = count.saturating_sub(1);
                    done.notify_all();
                }
            });
        let queue = match spawned {
            Ok(_) => Some(send),
            Err(e) => {
                tracing::warn!(error = %e, "no reaper thread: links are deleted synchronously");
                None
            }
        };
        LinkReaper {
            queue: Mutex::new(queue),
            pending,
        }
    }

    /// Queues `link` for deletion; returns false if it must be deleted by the caller.
    pub fn delete_later(&self, link: &str) -> bool {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = queue.as_ref() else {
            return false;
        };
        let (count, _) = &*self.pending;
        *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        if queue.send(link.to_owned()).is_err() {
            *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            return false;
        }
        true
    }

    /// Waits until every queued link is deleted, or `limit` passes; returns how many remain.
    pub fn drain(&self, limit: Duration) -> usize {
        let (count, done) = &*self.pending;
        let count = count.lock().unwrap_or_else(|e| e.into_inner());
        let (count, _) = done
            .wait_timeout_while(count, limit, |n| *n > 0)
            .unwrap_or_else(|e| e.into_inner());
        *count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::fake::RecordingDataplane;

    #[test]
    fn queued_links_are_deleted_and_drain_waits_for_them() {
        let kernel = Arc::new(RecordingDataplane::new());
        kernel.add_link("wh0000000001", "wharf:1");
        kernel.add_link("wh0000000002", "wharf:2");
        let reaper = LinkReaper::new(kernel.clone());
        assert!(reaper.delete_later("wh0000000001"));
        assert!(reaper.delete_later("wh0000000002"));
        assert_eq!(reaper.drain(Duration::from_secs(5)), 0);
        assert!(kernel.links().is_empty());
    }
}
