//! wharf's own cost of one endpoint lifecycle, driven over its plugin socket the way dockerd
//! drives it, next to the same set-up done by running the `ip` command.
//!
//! Once: RequestPool, RequestAddress (gateway), CreateNetwork. Then N times:
//! RequestAddress, CreateEndpoint + Join (timed as set-up), Leave + DeleteEndpoint (timed
//! as tear-down), ReleaseAddress. Then the same set-up by hand with `ip` and its tear-down
//! (`ip link del`): for a routed network a veth pair, link up, gateway /32, host route, two
//! sysctl writes; for macvlan/ipvlan the link on the parent and its alias.
//!
//! Run through `bench/endpoint-lifecycle`, which starts a throwaway wharf.
//! Usage: lifecycle_bench [--socket PATH] [--iterations N] [--pool CIDR]
//!        [--mode routed|macvlan|ipvlan --parent IFACE]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Options {
    socket: String,
    iterations: usize,
    pool: String,
    mode: String,
    parent: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        socket: "/run/docker/plugins/wharf.sock".into(),
        iterations: 200,
        pool: "10.46.200.0/24".into(),
        mode: "routed".into(),
        parent: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--socket" => opts.socket = value()?,
            "--iterations" => {
                opts.iterations = value()?.parse().map_err(|e| format!("--iterations: {e}"))?
            }
            "--pool" => opts.pool = value()?,
            "--mode" => opts.mode = value()?,
            "--parent" => opts.parent = Some(value()?),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    match (opts.mode.as_str(), &opts.parent) {
        ("routed", None) | ("macvlan" | "ipvlan", Some(_)) => {}
        _ => return Err("--mode macvlan|ipvlan needs --parent, routed none".into()),
    }
    if opts.iterations == 0 {
        return Err("--iterations must be at least 1".into());
    }
    Ok(opts)
}

/// A keep-alive HTTP/1.1 client on the plugin's unix socket.
struct PluginClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl PluginClient {
    fn connect(path: &str) -> io::Result<Self> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// POST /METHOD with BODY; Ok(answer) on HTTP 200, Err(message) otherwise.
    fn call(&mut self, method: &str, body: &Value) -> Result<Value, String> {
        let body = body.to_string();
        // Like dockerd: no Content-Type, the plugin API's Accept header.
        let request = format!(
            "POST /{method} HTTP/1.1\r\nHost: wharf\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.writer
            .write_all(request.as_bytes())
            .map_err(|e| format!("{method}: write: {e}"))?;
        let (status, answer) = self
            .read_response()
            .map_err(|e| format!("{method}: read: {e}"))?;
        let value: Value = serde_json::from_slice(&answer).map_err(|e| {
            format!(
                "{method}: HTTP {status}, body is not JSON ({e}): {}",
                String::from_utf8_lossy(&answer)
            )
        })?;
        if status != 200 {
            return Err(format!("{method}: HTTP {status}: {value}"));
        }
        Ok(value)
    }

    fn read_response(&mut self) -> io::Result<(u16, Vec<u8>)> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size =
                    usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                        .map_err(|e| io::Error::other(format!("bad chunk size {line:?}: {e}")))?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            let length = length.ok_or_else(|| io::Error::other("no Content-Length"))?;
            body.resize(length, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok((status, body))
    }
}

/// A Docker-style 64-hex ID; the counter comes first, since wharf names links after the
/// first ten digits.
fn id64(kind: u8, n: usize) -> String {
    format!("{n:010x}{kind:02x}{:052x}", 0)
}

fn field(value: &Value, name: &str) -> Result<String, String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .ok_or(format!("answer has no {name}: {value}"))
}

fn bare(addr: &str) -> &str {
    addr.split('/').next().unwrap_or(addr)
}

#[derive(Default)]
struct Samples {
    setup: Vec<Duration>,
    /// Until the plugin answered (what Docker waits for).
    teardown: Vec<Duration>,
    /// DeleteNetwork after all endpoints.
    links_gone: Duration,
}

/// One network's worth of wharf lifecycles; tears down what it made, also on error.
fn bench_wharf(opts: &Options) -> Result<Samples, String> {
    let mut c =
        PluginClient::connect(&opts.socket).map_err(|e| format!("connect {}: {e}", opts.socket))?;
    c.call("Plugin.Activate", &json!({}))?;
    let pool = c.call(
        "IpamDriver.RequestPool",
        &json!({"AddressSpace": "local", "Pool": opts.pool, "SubPool": "", "Options": {}, "V6": false}),
    )?;
    let pool_id = field(&pool, "PoolID")?;
    let result = (|| {
        let gw = c.call(
            "IpamDriver.RequestAddress",
            &json!({"PoolID": pool_id, "Address": "",
                    "Options": {"RequestAddressType": "com.docker.network.gateway"}}),
        )?;
        let gw = field(&gw, "Address")?;
        let network_id = id64(0xbe, 0);
        let generic = match &opts.parent {
            Some(parent) => json!({"mode": opts.mode, "parent": parent}),
            None => json!({}),
        };
        c.call(
            "NetworkDriver.CreateNetwork",
            &json!({"NetworkID": network_id,
                    "Options": {"com.docker.network.enable_ipv6": false, "com.docker.network.generic": generic},
                    "IPv4Data": [{"AddressSpace": "local", "Gateway": gw, "Pool": opts.pool}],
                    "IPv6Data": []}),
        )?;
        let samples = endpoint_loop(&mut c, opts, &network_id, &pool_id);
        let t0 = Instant::now();
        c.call(
            "NetworkDriver.DeleteNetwork",
            &json!({"NetworkID": network_id}),
        )?;
        let samples = samples.map(|s| Samples {
            links_gone: t0.elapsed(),
            ..s
        });
        c.call(
            "IpamDriver.ReleaseAddress",
            &json!({"PoolID": pool_id, "Address": bare(&gw)}),
        )?;
        samples
    })();
    let released = c.call("IpamDriver.ReleasePool", &json!({"PoolID": pool_id}));
    let samples = result?;
    released?;
    Ok(samples)
}

/// Phase one sets up every endpoint (with no link delete in flight: a delete holds the
/// kernel's RTNL lock for its whole ~20 ms grace period, as it would for a `docker run`);
/// phase two tears them all down.
fn endpoint_loop(
    c: &mut PluginClient,
    opts: &Options,
    network_id: &str,
    pool_id: &str,
) -> Result<Samples, String> {
    let mut samples = Samples::default();
    let mut made = Vec::new();
    let result = (|| {
        for i in 0..opts.iterations {
            let addr = c.call(
                "IpamDriver.RequestAddress",
                &json!({"PoolID": pool_id, "Address": "", "Options": null}),
            )?;
            let addr = field(&addr, "Address")?;
            let create = json!({"NetworkID": network_id, "EndpointID": id64(0xe0, i),
                "Interface": {"Address": addr, "AddressIPv6": "", "MacAddress": ""}, "Options": {}});
            let join = json!({"NetworkID": network_id, "EndpointID": id64(0xe0, i),
                "SandboxKey": "/var/run/docker/netns/wharf-bench", "Options": {}});
            made.push((i, addr));
            let t0 = Instant::now();
            c.call("NetworkDriver.CreateEndpoint", &create)?;
            c.call("NetworkDriver.Join", &join)?;
            samples.setup.push(t0.elapsed());
        }
        Ok::<(), String>(())
    })();
    // Tear down whatever was made, also after an error.
    for (i, addr) in &made {
        let ep = json!({"NetworkID": network_id, "EndpointID": id64(0xe0, *i)});
        let t0 = Instant::now();
        let _ = c.call("NetworkDriver.Leave", &ep);
        let unmade = c.call("NetworkDriver.DeleteEndpoint", &ep);
        samples.teardown.push(t0.elapsed());
        c.call(
            "IpamDriver.ReleaseAddress",
            &json!({"PoolID": pool_id, "Address": bare(addr)}),
        )?;
        unmade?;
    }
    result?;
    Ok(samples)
}

fn run(argv: &[&str]) -> Result<(), String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// The same set-up by hand: the commands a shell script plugin would run.
fn bench_ip(opts: &Options) -> Result<Samples, String> {
    let mut samples = Samples::default();
    for i in 0..opts.iterations {
        let host = format!("whb{i}");
        let peer = format!("wcb{i}");
        let t0 = Instant::now();
        let made = (|| {
            if let Some(parent) = &opts.parent {
                let kind: &[&str] = match opts.mode.as_str() {
                    "ipvlan" => &["ipvlan", "mode", "l2"],
                    _ => &["macvlan", "mode", "bridge"],
                };
                let add = ["ip", "link", "add", "link", parent, "name", &host, "type"];
                run(&[&add[..], kind].concat())?;
                return run(&["ip", "link", "set", &host, "alias", "wharf:bench"]);
            }
            run(&[
                "ip", "link", "add", &host, "type", "veth", "peer", "name", &peer,
            ])?;
            run(&["ip", "link", "set", &host, "up"])?;
            run(&["ip", "addr", "add", "10.46.201.1/32", "dev", &host])?;
            run(&["ip", "route", "add", "10.46.201.2/32", "dev", &host])?;
            for family in ["ipv4", "ipv6"] {
                let path = format!("/proc/sys/net/{family}/conf/{host}/forwarding");
                run(&["sh", "-c", &format!("echo 1 > {path}")])?;
            }
            Ok::<(), String>(())
        })();
        let t1 = Instant::now();
        let unmade = run(&["ip", "link", "del", &host]);
        let t2 = Instant::now();
        made?;
        unmade?;
        samples.setup.push(t1 - t0);
        samples.teardown.push(t2 - t1);
    }
    Ok(samples)
}

/// (median, p90) in milliseconds, nearest rank.
fn stats(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let rank = |q: f64| {
        let i = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e3
    };
    (rank(0.5), rank(0.9))
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lifecycle_bench: {e}");
            std::process::exit(2);
        }
    };
    let mut wharf = bench_wharf(&opts).unwrap_or_else(|e| {
        eprintln!("lifecycle_bench: wharf: {e}");
        std::process::exit(1);
    });
    let mut ip = bench_ip(&opts).unwrap_or_else(|e| {
        eprintln!("lifecycle_bench: ip: {e}");
        std::process::exit(1);
    });
    let rows = [
        (
            "wharf set-up (CreateEndpoint+Join)",
            stats(&mut wharf.setup),
        ),
        (
            match opts.parent {
                None => "ip set-up (4 ip + 2 sysctl execs)",
                Some(_) => "ip set-up (ip link add + alias)",
            },
            stats(&mut ip.setup),
        ),
        (
            "wharf tear-down (Leave+DeleteEndpoint)",
            stats(&mut wharf.teardown),
        ),
        ("ip tear-down (ip link del)", stats(&mut ip.teardown)),
    ];
    println!(
        "{} endpoint lifecycle{}, {} iterations ({} cores)",
        opts.mode,
        opts.parent
            .as_deref()
            .map(|p| format!(" on parent {p}"))
            .unwrap_or_default(),
        opts.iterations,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{:<40} {:>10} {:>10}", "", "median ms", "p90 ms");
    for (name, (median, p90)) in &rows {
        println!("{name:<40} {median:>10.3} {p90:>10.3}");
    }
    println!(
        "ratio wharf/ip: set-up {:.2} (median), tear-down {:.2} (median)",
        rows[0].1 .0 / rows[1].1 .0,
        rows[2].1 .0 / rows[3].1 .0
    );
    println!(
        "DeleteNetwork after the last of {} endpoints: {:.1} ms ({:.2} ms an endpoint; \
         ip link del: {:.2} ms)",
        opts.iterations,
        wharf.links_gone.as_secs_f64() * 1e3,
        wharf.links_gone.as_secs_f64() * 1e3 / opts.iterations as f64,
        rows[3].1 .0
    );
}
