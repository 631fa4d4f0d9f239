//! Runs the scripts of [`crate::dataplane::fence`] with `nft -f -`: each script is one
//! nftables transaction, applied whole or not at all. The table's last applied contents are
//! kept, so a change sends only its difference; after a failure (or at start) the whole table
//! is replaced, which also puts right anything someone else changed in it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::firewall::find_binary;
use crate::dataplane::fence::{change_script, full_script, Fences};
use crate::dataplane::DataplaneError;

/// The fences the table holds, when known.
#[derive(Debug, Default)]
pub(super) struct FenceTable {
    applied: Mutex<Option<Fences>>,
}

impl FenceTable {
    pub(super) fn sync(&self, fences: &Fences) -> Result<(), DataplaneError> {
        let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        let script = match applied.as_ref() {
            Some(old) if !old.is_empty() => change_script(old, fences),
            Some(_) if fences.is_empty() => None,
            _ => Some(full_script(fences)),
        };
        if let Some(script) = script {
            // Unknown until it succeeds: a failed transaction changed nothing, but the next
            // call replaces the table rather than trust that.
            *applied = None;
            run_nft(&script)?;
        }
        *applied = Some(fences.clone());
        Ok(())
    }
}

fn run_nft(script: &str) -> Result<(), DataplaneError> {
    let what = "nftables table inet wharf";
    let nft = find_binary("nft").ok_or_else(|| {
        DataplaneError::other(
            what,
            "the nft program is missing; it is needed to keep routed networks apart: install \
             it (Debian: apt-get install nftables)",
        )
    })?;
    let mut child = Command::new(&nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| DataplaneError::other(what, format!("{}: {e}", nft.display())))?;
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(script.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| DataplaneError::other(what, format!("{}: {e}", nft.display())))?;
    if let Some(Err(e)) = written {
        return Err(DataplaneError::other(what, format!("writing to nft: {e}")));
    }
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        return Err(DataplaneError::other(
            what,
            format!("nft refused the change: {}", message.trim()),
        ));
    }
    Ok(())
}
