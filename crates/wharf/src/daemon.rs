//! `wharf serve`: load the state, reconcile the kernel with it, serve Docker until SIGTERM.

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use crate::cli::{LogFormat, ServeArgs, StatusArgs};
use crate::dataplane::Dataplane;
use crate::engine::{status, Engine};
use crate::modes::{ModeDefaults, ModeRegistry};
use crate::protocol::docker_api::NameLearner;
use crate::protocol::plugin::Plugin;
use crate::protocol::{client, server};
use crate::store::Store;

/// Logs go to stderr. `WHARF_LOG` narrows or widens them per module, in tracing's
/// `target=level,level` form (e.g. `wharf_bgp=debug,info`); its per-span and regular-expression
/// forms are not taken, which keeps a regular-expression engine out of the daemon's memory.
pub fn init_logging(debug: bool, format: LogFormat) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let level = if debug { "debug" } else { "info" };
    let mut unreadable = None;
    let filter = match std::env::var("WHARF_LOG") {
        Ok(text) => text.parse::<Targets>().unwrap_or_else(|e| {
            unreadable = Some((text, e));
            level.parse().unwrap_or_default()
        }),
        Err(_) => level.parse().unwrap_or_default(),
    };
    // Colour codes only for a terminal, not for log files and journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let layer = match format {
        LogFormat::Text => layer.with_filter(filter).boxed(),
        LogFormat::Json => layer.json().with_filter(filter).boxed(),
    };
    tracing_subscriber::registry().with(layer).init();
    if let Some((text, error)) = unreadable {
        tracing::warn!(
            "WHARF_LOG={text:?} is not a filter wharf takes ({error}); logging at {level}: \
             write it as target=level,level, e.g. wharf_bgp=debug,info"
        );
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs the daemon. `make_dataplane` is called once, on this thread (netlink sockets belong to
/// the network namespace of the thread that opens them).
pub fn serve(
    args: &ServeArgs,
    make_dataplane: impl FnOnce() -> Result<Dataplane, String>,
) -> Result<(), String> {
    if !is_root() {
        return Err("wharf serve must run as root: it creates links, addresses and routes".into());
    }
    let config = args.engine_config()?;
    // A mistake in the BGP settings stops the start, before anything is touched.
    let (routing, bgp) = args.routing()?;
    tracing::info!(routing = routing.name(), "routing");
    let modes = ModeRegistry::standard(&args.mode_defaults(routing));
    let store = Store::open_exclusive(&args.state_dir).map_err(|e| e.to_string())?;
    let dataplane = make_dataplane()?;
    let engine =
        Engine::load(config, modes, dataplane.clone(), store).map_err(|e| e.to_string())?;
    let (plan, sandbox_work) = engine
        .reconcile()
        .map_err(|e| format!("reconciling the kernel with the saved state failed: {e}"))?;
    tracing::info!(
        deleted_links = plan.delete_links.len(),
        made_again = plan.make.len(),
        restored_routes = plan.restore_routes.len(),
        removed_routes = plan.remove_routes.len(),
        "reconciled"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(async {
        for work in sandbox_work {
            let sandbox = dataplane.sandbox.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = sandbox.configure_sandbox(&work) {
                    tracing::warn!(error = %e, "re-applying extra addresses failed");
                }
            });
        }
        let listener = server::bind(&args.socket).await.map_err(|e| e.to_string())?;
        tracing::info!(socket = %args.socket.display(), state = %args.state_dir.display(), "wharf is serving");
        let engine = Arc::new(engine);
        watch_switches(&engine);
        if routing == crate::model::Routing::External {
            watch_remote_hosts(&engine);
        }
        let names = NameLearner::new(args.docker_socket.clone());
        // One network's learning names every network dockerd lists.
        if let Some(id) = engine.state().networks.values().find(|n| n.name.is_none()) {
            names.learn(&engine, &id.id);
        }
        let speaker = match bgp {
            Some(settings) => Some(
                crate::routing::start(&settings, &engine, dataplane.learned.clone()).await?,
            ),
            None => None,
        };
        let plugin = Arc::new(
            Plugin::new(engine)
                .with_names(names)
                .with_speaker(speaker.clone()),
        );
        server::serve(listener, plugin, shutdown_signal()).await;
        if let Some(speaker) = speaker {
            // Cease to every peer: they withdraw this host's routes now, not at hold time.
            speaker.shutdown().await;
        }
        let _ = std::fs::remove_file(&args.socket);
        tracing::info!("wharf stopped");
        Ok(())
    })
}

/// Puts wharf's Open vSwitch bridges and ports back whenever ovsdb-server comes back.
fn watch_switches(engine: &Arc<Engine>) {
    let weak = Arc::downgrade(engine);
    engine
        .dataplane()
        .switches
        .watch_restarts(Box::new(move || {
            let Some(engine) = weak.upgrade() else {
                return;
            };
            match engine.reconcile_switches() {
                Ok(changed) => tracing::info!(changed, "Open vSwitch objects reconciled"),
                Err(error) => {
                    tracing::error!(%error, "reconciling Open vSwitch objects failed")
                }
            }
        }));
}

/// With a routing daemon beside wharf, its host routes are the containers of other hosts:
/// the IPAM keeps off their addresses, as it does off those BGP peers announce.
fn watch_remote_hosts(engine: &Arc<Engine>) {
    let weak = Arc::downgrade(engine);
    engine
        .dataplane()
        .routes
        .watch_remote_hosts(Box::new(move |change| {
            let Some(engine) = weak.upgrade() else {
                return;
            };
            use crate::dataplane::RemoteHostChange;
            match change {
                RemoteHostChange::All(all) => {
                    tracing::debug!(count = all.len(), "host routes of other hosts read");
                    engine.replace_remote_hosts(&all);
                }
                RemoteHostChange::Added(address) => engine.note_remote_hosts(&[address], &[]),
                RemoteHostChange::Removed(address) => engine.note_remote_hosts(&[], &[address]),
            }
        }));
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT; stop wharf with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// `wharf status`: asks the daemon; falls back to the state file when it does not answer.
pub fn status(args: &StatusArgs) -> Result<String, String> {
    let report = match client::post(&args.socket, "/Wharf.Status", "") {
        Ok((200, body)) => serde_json::from_str(&body)
            .map_err(|e| format!("wharf's status answer is not valid: {e}"))?,
        Ok((code, body)) => return Err(format!("wharf answered {code}: {body}")),
        Err(client::ClientError::Connect { .. }) => {
            let state = Store::open_read_only(&args.state_dir)
                .load()
                .map_err(|e| e.to_string())?;
            // The flags' defaults do not change how a stored network is described.
            let modes = ModeRegistry::standard(&ModeDefaults::default());
            status::report(
                &state,
                &modes,
                "state file (the daemon is not running)",
                None,
            )
        }
        Err(e) => return Err(e.to_string()),
    };
    if args.json {
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
    } else {
        Ok(status::render(&report))
    }
}

/// `wharf bgp neighbors|routes|refresh`: asks the running daemon.
pub fn bgp(args: &crate::cli::BgpArgs) -> Result<String, String> {
    use crate::cli::BgpQuery;
    let (path, what) = match args.what {
        BgpQuery::Neighbors => ("/Wharf.BgpNeighbors", "neighbors"),
        BgpQuery::Routes => ("/Wharf.BgpRoutes", "routes"),
        BgpQuery::Refresh => ("/Wharf.BgpRefresh", "refresh"),
    };
    let request = match (args.what, args.peer) {
        (BgpQuery::Refresh, peer) => {
            serde_json::to_string(&crate::routing::RefreshRequest { peer })
                .map_err(|e| format!("encoding the refresh request: {e}"))?
        }
        (_, Some(peer)) => {
            return Err(format!(
                "a peer address ({peer}) goes only with `wharf bgp refresh`; `wharf bgp {what}` \
                 shows every peer"
            ))
        }
        (_, None) => String::new(),
    };
    let body = match client::post(&args.socket, path, &request) {
        Ok((200, body)) => body,
        Ok((_, body)) => {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("Err").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or(body);
            return Err(message);
        }
        Err(e) => return Err(e.to_string()),
    };
    if args.json {
        return Ok(format!("{body}\n"));
    }
    let invalid = |e: serde_json::Error| format!("wharf's {what} answer is not valid: {e}");
    Ok(match args.what {
        BgpQuery::Neighbors => {
            let neighbors: Vec<crate::routing::NeighborReport> =
                serde_json::from_str(&body).map_err(invalid)?;
            crate::routing::render_neighbors(&neighbors)
        }
        BgpQuery::Routes => {
            let routes: Vec<crate::routing::RouteReport> =
                serde_json::from_str(&body).map_err(invalid)?;
            crate::routing::render_routes(&routes)
        }
        BgpQuery::Refresh => {
            let lines: Vec<crate::routing::RefreshLine> =
                serde_json::from_str(&body).map_err(invalid)?;
            crate::routing::render_refresh(&lines)
        }
    })
}
