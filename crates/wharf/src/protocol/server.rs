//! The plugin's HTTP server on its unix socket. Docker sends every call as
//! `POST /<Interface>.<Method>` with no Content-Type and, for calls without arguments, an
//! empty body (older clients: `null`); it needs a JSON object back even on success, and an
//! error as HTTP 500 with `{"Err": "..."}` (IPAM answers call the field `Error`: both are set).

use std::convert::Infallible;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::{UnixListener, UnixStream};

use super::plugin::Plugin;
use super::types::*;
use crate::engine::{EngineError, GLOBAL_ADDRESS_SPACE, LOCAL_ADDRESS_SPACE};

/// Largest request body accepted; Docker's are a few kilobytes.
pub(super) const MAX_BODY: usize = 1 << 20;
const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("plugin socket {path}: another process is already serving it")]
    InUse { path: PathBuf },
    #[error("plugin socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Binds the socket, root-only (mode 0600). A socket file left by a dead daemon is replaced;
/// one that still answers is not.
pub async fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    let io = |source| ServerError::Io {
        path: path.into(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    match UnixStream::connect(path).await {
        Ok(_) => return Err(ServerError::InUse { path: path.into() }),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(_) => std::fs::remove_file(path).map_err(io)?,
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

/// Serves connections until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    plugin: Arc<Plugin>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept on plugin socket failed");
                    continue;
                }
            },
        };
        let plugin = plugin.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(plugin.clone(), req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "plugin connection ended with an error");
            }
        });
    }
}

pub(super) type Answer = (StatusCode, Value);

async fn handle(
    plugin: Arc<Plugin>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let (status, body) = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => dispatch(plugin, &path, collected.to_bytes()).await,
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => error(format!(
            "the {path} request is larger than wharf takes ({MAX_BODY} bytes); Docker's are a few kilobytes"
        )),
        Err(e) => error(format!("reading the {path} request failed: {e}")),
    };
    if status != StatusCode::OK {
        tracing::warn!(call = %path, %status, error = %body, "call failed");
    } else {
        tracing::debug!(call = %path, "call answered");
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(CONTENT_TYPE),
    );
    Ok(response)
}

/// Longest error text sent back. Messages quote the offending input so the user sees what
/// was wrong, and a hostile or broken client's input may be up to MAX_BODY long: Docker shows
/// the text to a user and the log keeps it, where the first kilobytes tell all there is.
const MAX_ERROR: usize = 1024;

/// An error text fit for a terminal and a log line: control characters a quoted input may
/// carry (some, like DEL, survive JSON and Debug quoting) are escaped, and the text is cut
/// to MAX_ERROR.
fn readable(message: String) -> String {
    let total = message.len();
    let mut out = String::new();
    for c in message.chars() {
        if out.len() >= MAX_ERROR {
            out.push_str(&format!("... ({total} bytes in all)"));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn error(message: String) -> Answer {
    let message = readable(message);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({ "Err": message, "Error": message }),
    )
}

fn ok(value: impl Serialize) -> Answer {
    match serde_json::to_value(value) {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => error(format!("encoding the answer failed: {e}")),
    }
}

/// An empty body or `null` means "no arguments"; anything else must be the call's JSON.
fn parse<T: DeserializeOwned + Default>(path: &str, body: &[u8]) -> Result<T, Answer> {
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() || text.trim() == "null" {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| error(format!("malformed JSON in the {path} request: {e}")))
}

/// Runs a plugin call on the blocking pool (it talks to the kernel and fsyncs).
async fn blocking<T, R>(
    plugin: Arc<Plugin>,
    request: T,
    call: fn(&Plugin, &T) -> Result<R, EngineError>,
) -> Answer
where
    T: Send + 'static,
    R: Serialize + Send + 'static,
{
    match tokio::task::spawn_blocking(move || call(&plugin, &request)).await {
        Ok(Ok(value)) => ok(value),
        Ok(Err(e)) => error(e.to_string()),
        Err(e) => error(format!("internal error: {e}")),
    }
}

macro_rules! call {
    ($engine:expr, $path:expr, $body:expr, $method:expr) => {
        match parse($path, &$body) {
            Ok(request) => blocking($engine, request, $method).await,
            Err(answer) => answer,
        }
    };
}

/// Calls that answer nothing still answer a JSON object: Docker fails on an empty body.
fn empty(result: Result<(), EngineError>) -> Result<Value, EngineError> {
    result.map(|()| json!({}))
}

/// Answers one call; the hostile-input tests drive it directly, without a socket.
pub(super) async fn dispatch(plugin: Arc<Plugin>, path: &str, body: Bytes) -> Answer {
    match path {
        "/Plugin.Activate" => ok(ActivateResponse {
            implements: vec!["NetworkDriver", "IpamDriver"],
        }),
        "/NetworkDriver.GetCapabilities" => ok(CapabilitiesResponse {
            scope: "local",
            connectivity_scope: "local",
            gw_alloc_checker: true,
        }),
        "/NetworkDriver.GwAllocCheck" => call!(plugin, path, body, Plugin::gw_alloc_check),
        "/NetworkDriver.CreateNetwork" => {
            call!(plugin, path, body, |e, r| empty(e.create_network(r)))
        }
        "/NetworkDriver.DeleteNetwork" => {
            call!(plugin, path, body, |e, r| empty(e.delete_network(r)))
        }
        "/NetworkDriver.CreateEndpoint" => call!(plugin, path, body, Plugin::create_endpoint),
        "/NetworkDriver.DeleteEndpoint" => {
            call!(plugin, path, body, |e, r| empty(e.delete_endpoint(r)))
        }
        "/NetworkDriver.EndpointOperInfo" => call!(plugin, path, body, Plugin::endpoint_info),
        "/NetworkDriver.Join" => match parse::<JoinRequest>(path, &body) {
            Ok(request) => join(plugin, request).await,
            Err(answer) => answer,
        },
        "/NetworkDriver.Leave" => call!(plugin, path, body, |e, r| empty(e.leave(r))),
        "/NetworkDriver.ProgramExternalConnectivity" => {
            call!(plugin, path, body, |e, r| empty(e.program_external(r)))
        }
        "/NetworkDriver.RevokeExternalConnectivity" => {
            call!(plugin, path, body, |e, r| empty(e.revoke_external(r)))
        }
        // wharf's scope is local: there are no other nodes to hear about.
        "/NetworkDriver.DiscoverNew" | "/NetworkDriver.DiscoverDelete" => ok(json!({})),
        "/IpamDriver.GetCapabilities" => ok(IpamCapabilitiesResponse {
            requires_mac_address: false,
            requires_request_replay: false,
        }),
        "/IpamDriver.GetDefaultAddressSpaces" => ok(AddressSpacesResponse {
            local_default_address_space: LOCAL_ADDRESS_SPACE,
            global_default_address_space: GLOBAL_ADDRESS_SPACE,
        }),
        "/IpamDriver.RequestPool" => call!(plugin, path, body, Plugin::request_pool),
        "/IpamDriver.ReleasePool" => {
            call!(plugin, path, body, |e, r| empty(e.release_pool(r)))
        }
        "/IpamDriver.RequestAddress" => call!(plugin, path, body, Plugin::request_address),
        "/IpamDriver.ReleaseAddress" => {
            call!(plugin, path, body, |e, r| empty(e.release_address(r)))
        }
        "/Wharf.Status" => blocking(plugin, (), |p, ()| p.status()).await,
        "/Wharf.BgpNeighbors" | "/Wharf.BgpRoutes" | "/Wharf.BgpRefresh" => {
            let Some(speaker) = plugin.speaker() else {
                return error(
                    "BGP is not running: start wharf serve with --bgp-asn, --bgp-router-id and \
                     --bgp-peer"
                        .into(),
                );
            };
            match path {
                "/Wharf.BgpNeighbors" => ok(crate::routing::neighbors(speaker).await),
                "/Wharf.BgpRoutes" => ok(crate::routing::routes(speaker, plugin.engine()).await),
                _ => match parse::<crate::routing::RefreshRequest>(path, &body) {
                    Ok(request) => match crate::routing::refresh(speaker, request.peer).await {
                        Ok(lines) => ok(lines),
                        Err(message) => error(message),
                    },
                    Err(answer) => answer,
                },
            }
        }
        other => (
            StatusCode::NOT_FOUND,
            json!({ "Err": readable(format!("wharf does not implement {other}")) }),
        ),
    }
}

/// Answers Join at once, then configures the endpoint's extra addresses once Docker has
/// moved the interface into the sandbox (which Docker does only after this answer).
async fn join(plugin: Arc<Plugin>, request: JoinRequest) -> Answer {
    let outcome = tokio::task::spawn_blocking({
        let plugin = plugin.clone();
        move || plugin.join(&request)
    })
    .await;
    match outcome {
        Ok(Ok((response, work))) => {
            if let Some(work) = work {
                let sandbox = plugin.engine().dataplane().sandbox.clone();
                tokio::task::spawn_blocking(move || match sandbox.configure_sandbox(&work) {
                    Ok(()) => tracing::info!(sandbox = %work.netns_path.display(),
                            addresses = ?work.addresses, "extra addresses configured"),
                    Err(e) => tracing::error!(error = %e, "configuring extra addresses failed"),
                });
            }
            ok(response)
        }
        Ok(Err(e)) => error(e.to_string()),
        Err(e) => error(format!("internal error: {e}")),
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
