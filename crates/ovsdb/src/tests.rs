//! The client against a fake server on the other end of a socket pair.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::client::Message;
use crate::framing::{Framer, DEFAULT_MAX_MESSAGE};
use crate::{Client, Datum, Error, MonitorRequest};

struct FakeServer {
    stream: UnixStream,
    framer: Framer,
}

impl FakeServer {
    fn read(&mut self) -> Value {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(message) = self.framer.next_message().unwrap() {
                return serde_json::from_slice(&message).unwrap();
            }
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "client hung up");
            self.framer.push(&buf[..n]);
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }
}

fn pair(timeout: Duration) -> (Client, FakeServer) {
    pair_with_limit(timeout, DEFAULT_MAX_MESSAGE)
}

fn pair_with_limit(timeout: Duration, max: usize) -> (Client, FakeServer) {
    let (a, b) = UnixStream::pair().unwrap();
    b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let server = FakeServer {
        stream: b,
        framer: Framer::new(DEFAULT_MAX_MESSAGE),
    };
    (Client::over(a, timeout, max), server)
}

#[test]
fn answers_the_servers_echo_with_its_params_and_id() {
    let (_client, mut server) = pair(Duration::from_secs(5));
    server.write(br#"{"method":"echo","params":["probe",7],"id":"echo"}"#);
    assert_eq!(
        server.read(),
        json!({"id": "echo", "result": ["probe", 7], "error": null})
    );
    // Also with an empty params list, as ovsdb-server sends it.
    server.write(br#"{"id":12,"method":"echo","params":[]}"#);
    assert_eq!(
        server.read(),
        json!({"id": 12, "result": [], "error": null})
    );
}

#[test]
fn routes_replies_split_anywhere_and_out_of_order() {
    let (client, mut server) = pair(Duration::from_secs(5));
    let client = std::sync::Arc::new(client);
    let handles: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|db| {
            let client = std::sync::Arc::clone(&client);
            thread::spawn(move || client.get_schema(db).map(|s| s.name().map(str::to_string)))
        })
        .collect();
    let mut requests = vec![server.read(), server.read()];
    requests.reverse();
    let mut replies = Vec::new();
    for request in &requests {
        assert_eq!(request["method"], "get_schema");
        let reply =
            json!({"id": request["id"], "result": {"name": request["params"][0]}, "error": null});
        replies.extend(serde_json::to_vec(&reply).unwrap());
    }
    for chunk in replies.chunks(5) {
        server.write(chunk);
        thread::sleep(Duration::from_millis(1));
    }
    let names: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert_eq!(names, [Some("a".to_string()), Some("b".to_string())]);
}

#[test]
fn rpc_errors_are_reported() {
    let (client, mut server) = pair(Duration::from_secs(5));
    let handle = thread::spawn(move || client.get_schema("nope"));
    let request = server.read();
    server.write(
        &serde_json::to_vec(&json!({"id": request["id"], "result": null,
            "error": {"error": "unknown database", "details": "get_schema asked for nope"}}))
        .unwrap(),
    );
    let error = handle.join().unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        "ovsdb-server refused get_schema: unknown database (get_schema asked for nope)"
    );
}

#[test]
fn closing_fails_a_pending_request_promptly() {
    let (client, mut server) = pair(Duration::from_secs(10));
    let started = Instant::now();
    let handle = thread::spawn(move || {
        let result = client.list_dbs();
        (result, client.list_dbs())
    });
    assert_eq!(server.read()["method"], "list_dbs");
    drop(server);
    let (pending, next) = handle.join().unwrap();
    assert!(
        matches!(&pending, Err(Error::Disconnected { reason }) if reason.contains("closed")),
        "{pending:?}"
    );
    assert!(matches!(next, Err(Error::Disconnected { .. })), "{next:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_request_times_out_and_the_connection_stays_usable() {
    let (client, mut server) = pair(Duration::from_millis(300));
    let client = std::sync::Arc::new(client);
    let c = std::sync::Arc::clone(&client);
    let handle = thread::spawn(move || c.echo());
    let first = server.read();
    let error = handle.join().unwrap().unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(error.to_string().contains("did not answer echo"), "{error}");

    let c = std::sync::Arc::clone(&client);
    let handle = thread::spawn(move || c.echo());
    let second = server.read();
    // The late reply to the first request is dropped, not given to the second.
    for request in [&first, &second] {
        let reply = json!({"id": request["id"], "result": request["params"], "error": null});
        server.write(&serde_json::to_vec(&reply).unwrap());
    }
    handle.join().unwrap().unwrap();
}

#[test]
fn monitor_updates_reach_the_receiver_which_closes_on_disconnect() {
    let (client, mut server) = pair(Duration::from_secs(5));
    let handle = thread::spawn(move || {
        let requests = BTreeMap::from([("Bridge".to_string(), MonitorRequest::columns(["name"]))]);
        let monitor = client.monitor("Open_vSwitch", "m1", &requests);
        (client, monitor)
    });
    let request = server.read();
    assert_eq!(
        request["params"],
        json!(["Open_vSwitch", "m1", {"Bridge": {"columns": ["name"],
            "select": {"initial": true, "insert": true, "delete": true, "modify": true}}}])
    );
    let reply = json!({"id": request["id"], "error": null,
        "result": {"Bridge": {"u1": {"new": {"name": "br0"}}}}});
    server.write(&serde_json::to_vec(&reply).unwrap());
    let (_client, monitor) = handle.join().unwrap();
    let monitor = monitor.unwrap();
    assert_eq!(
        monitor.initial["Bridge"]["u1"].new.as_ref().unwrap()["name"],
        Datum::from("br0")
    );

    // Updates for another monitor id are not delivered here.
    server.write(br#"{"id":null,"method":"update","params":["m2",{"Bridge":{"u9":{"new":{}}}}]}"#);
    server.write(br#"{"id":null,"method":"update","params":["m1",{"Bridge":{"u1":{"old":{"name":"br0"}}}}]}"#);
    let update = monitor
        .updates
        .recv_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!(update["Bridge"]["u1"].new, None);
    assert!(update["Bridge"]["u1"].old.is_some());

    drop(server);
    assert!(matches!(
        monitor.updates.recv_timeout(Duration::from_secs(5)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn an_oversized_message_closes_the_connection() {
    let (client, mut server) = pair_with_limit(Duration::from_secs(5), 100);
    let handle = thread::spawn(move || client.list_dbs());
    server.read();
    server.write(&[b'['; 101]);
    let error = handle.join().unwrap().unwrap_err();
    assert!(
        error.to_string().contains("larger than 100 bytes"),
        "{error}"
    );
}

#[test]
fn garbage_closes_the_connection_with_a_reason() {
    for garbage in [&b"hello"[..], b"{\"id\":1,\"result\":[1,}]", b"[1,2]"] {
        let (client, mut server) = pair(Duration::from_secs(5));
        server.write(garbage);
        let started = Instant::now();
        while client.disconnect_reason().is_none() {
            assert!(started.elapsed() < Duration::from_secs(5));
            thread::sleep(Duration::from_millis(5));
        }
        let error = client.echo().unwrap_err();
        assert!(matches!(error, Error::Disconnected { .. }), "{error:?}");
        assert!(error.to_string().contains("lost"), "{error}");
    }
}

#[test]
fn decodes_messages() {
    assert_eq!(
        Message::decode(br#"{"id":3,"result":[],"error":null}"#).unwrap(),
        Message::Response {
            id: json!(3),
            result: json!([]),
            error: Value::Null
        }
    );
    assert_eq!(
        Message::decode(br#"{"id":"x","method":"echo","params":[]}"#).unwrap(),
        Message::Request {
            method: "echo".into(),
            params: json!([]),
            id: json!("x")
        }
    );
    assert_eq!(
        Message::decode(br#"{"id":null,"method":"update","params":[1]}"#).unwrap(),
        Message::Notification {
            method: "update".into(),
            params: json!([1])
        }
    );
    for bad in [&b"[]"[..], b"{\"method\":1}", b"nope", b""] {
        assert!(Message::decode(bad).is_err());
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn arbitrary_messages_never_panic_the_client(
        messages in proptest::collection::vec(
            prop_oneof![
                Just(r#"{"id":null,"method":"update","params":["m",{"T":{"u":{"new":{"c":["set",[1]]}}}}]}"#.to_string()),
                Just(r#"{"id":1,"result":null,"error":null}"#.to_string()),
                Just(r#"{"id":"e","method":"echo","params":[]}"#.to_string()),
                "[\\[\\]{}\",:0-9a-z .-]{0,30}",
            ],
            0..6,
        )
    ) {
        let (client, mut server) = pair(Duration::from_secs(5));
        for message in &messages {
            // The client may already have hung up on an earlier message.
            let _ = server.stream.write_all(message.as_bytes());
        }
        drop(server);
        // The reader thread survives whatever it got and reports the disconnect.
        let error = client.echo().unwrap_err();
        prop_assert!(matches!(error, Error::Disconnected { .. }), "{:?}", error);
    }
}
