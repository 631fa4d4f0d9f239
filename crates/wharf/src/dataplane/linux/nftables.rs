//! Runs the scripts of [`crate::dataplane::fence`] and [`crate::dataplane::nat`] with
//! `nft -f -`: each script is one nftables transaction, applied whole or not at all. Each
//! table's last applied contents are kept, so a change sends only its difference; after a
//! failure (or at start) the whole table is replaced, which also puts right anything someone
//! else changed in it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::firewall::find_binary;
use super::sysctl;
use crate::dataplane::fence::{change_script, full_script, Fences};
use crate::dataplane::nat::{self, Nat};
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
            run_nft(
                "nftables table inet wharf",
                "to keep routed networks apart",
                &script,
            )?;
        }
        *applied = Some(fences.clone());
        Ok(())
    }
}

/// The NAT the table holds, when known.
#[derive(Debug, Default)]
pub(super) struct NatTable {
    applied: Mutex<Option<Nat>>,
}

impl NatTable {
    pub(super) fn sync(&self, wanted: &Nat) -> Result<(), DataplaneError> {
        let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        let script = match applied.as_ref() {
            Some(old) => nat::change_script(old, wanted),
            None => Some(nat::full_script(wanted)),
        };
        if let Some(script) = script {
            // Unknown until it succeeds, as with the fences.
            *applied = None;
            run_nft(
                "nftables table inet wharf_nat",
                "for masquerade and published ports",
                &script,
            )?;
        }
        *applied = Some(wanted.clone());
        drop(applied);
        allow_localnet(wanted)
    }
}

/// Lets 127.0.0.0/8 sources be routed out of the masquerade networks' bridges, so that a
/// connection from the host to 127.0.0.1 on a published port, DNATed to a container, is not
/// dropped as martian (the table then masquerades its source). A bridge not there yet is
/// skipped: the sync after it comes sets it.
fn allow_localnet(wanted: &Nat) -> Result<(), DataplaneError> {
    for bridge in nat::bridges(wanted) {
        let path = format!("net/ipv4/conf/{bridge}/route_localnet");
        if !std::path::Path::new("/proc/sys").join(&path).exists() {
            continue;
        }
        match sysctl::enable(&path) {
            // Gone since the check: as if it had not been there.
            Err(e) if e.errno() == Some(libc::ENOENT) => {}
            other => other?,
        }
    }
    Ok(())
}

/// Runs `script` with `nft -f -`; `what` names the table in errors, `needed` says what the
/// table is for when nft is missing.
fn run_nft(what: &str, needed: &str, script: &str) -> Result<(), DataplaneError> {
    let nft = find_binary("nft").ok_or_else(|| {
        DataplaneError::other(
            what,
            format!(
                "the nft program is missing; it is needed {needed}: install it (Debian: \
                 apt-get install nftables)"
            ),
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
