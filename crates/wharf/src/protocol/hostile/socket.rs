//! A smaller sample through the real server on its unix socket: the HTTP layer, the body
//! limit and the answers' encoding included. One daemon serves every case, so the state it
//! keeps is whatever the earlier cases left, as for a daemon that has seen a lot.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use proptest::prelude::*;

use super::bodies::{arbitrary_json, raw_body, PATHS};
use super::*;
use crate::protocol::server::{bind, serve};

/// POSTs raw bytes (which `client::post` cannot: it takes text); the status and the body.
fn post_bytes(socket: &Path, path: &str, body: &[u8]) -> std::io::Result<(u16, Value)> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: plugin\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, serde_json::from_str(body).unwrap_or(Value::Null)))
}

struct Served {
    host: Host,
    socket: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

fn served() -> Served {
    let host = populated("socket");
    let socket = host.dir.join("wharf.sock");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime.block_on(bind(&socket)).expect("bind");
    runtime.spawn(serve(listener, host.plugin.clone(), std::future::pending()));
    Served {
        host,
        socket,
        _runtime: runtime,
    }
}

#[test]
fn raw_bytes_over_the_socket() {
    let daemon = served();
    let mut runner =
        proptest::test_runner::TestRunner::new(config("raw_bytes_over_the_socket", 150));
    let strategy = (
        prop::sample::select(PATHS),
        prop_oneof![
            arbitrary_json().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
            raw_body(),
        ],
    );
    let outcome = runner.run(&strategy, |(path, body)| {
        let before = daemon.host.engine.state();
        let calls = daemon.host.kernel.calls().len();
        let (code, answer) = post_bytes(&daemon.socket, path, &body)
            .map_err(|e| TestCaseError::fail(format!("{path}: {e}")))?;
        let status = StatusCode::from_u16(code).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_answer(path, status, &answer).map_err(TestCaseError::fail)?;
        let after = daemon.host.engine.state();
        if status != StatusCode::OK {
            prop_assert_eq!(&after, &before, "{} refused but changed the state", path);
            prop_assert_eq!(daemon.host.kernel.calls().len(), calls);
        }
        check_settled(&after).map_err(TestCaseError::fail)?;
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    // Still serving, after all that.
    let (code, _) = post_bytes(&daemon.socket, "/Plugin.Activate", b"").expect("activate");
    assert_eq!(code, 200);
}
