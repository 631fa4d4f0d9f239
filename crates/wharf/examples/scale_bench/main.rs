//! Scale of one routed network: N endpoints set up on wharf over its plugin socket, the way
//! dockerd sets them up, interleaved with the kernel's own cost for the same links, addresses
//! and routes at the same fill level (done with the netlink crate in a namespace of its own).
//! Reports both at the first and the last WINDOW endpoints, wharf's part (wharf minus kernel),
//! wharf's memory and state per endpoint, and a timed tear-down of the last WINDOW.
//!
//! Talks to wharf only through its socket and uses only `wharf_netlink`, so it keeps working
//! whatever wharf's insides become. Run through `bench/scale`, which makes the namespaces,
//! starts a throwaway wharf in one of them and removes everything afterwards.
//!
//! Usage: scale_bench --socket PATH --state-dir DIR --wharf-pid PID --kernel-netns PATH
//!        [--endpoints N] [--window W] [--pool CIDR] [--progress K] [--keep-alive]

mod docker;
mod kernel;
mod plugin;
mod stats;

use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use wharf_netlink::netns::run_in_netns;

use docker::{SetUpTimes, WharfEndpoint, WharfNetwork};
use kernel::{KernelEndpoint, KernelSide};
use plugin::{Connection, PluginClient};
use stats::{ends, spread, total_secs, Spread};

struct Options {
    socket: PathBuf,
    state_dir: PathBuf,
    wharf_pid: u32,
    kernel_netns: PathBuf,
    endpoints: usize,
    window: usize,
    pool: String,
    progress: usize,
    connection: Connection,
}

fn parse_args() -> Result<Options, String> {
    let mut socket = None;
    let mut state_dir = None;
    let mut wharf_pid = None;
    let mut kernel_netns = None;
    let mut opts = Options {
        socket: PathBuf::new(),
        state_dir: PathBuf::new(),
        wharf_pid: 0,
        kernel_netns: PathBuf::new(),
        endpoints: 10_000,
        window: 100,
        pool: "10.46.0.0/16".into(),
        progress: 1000,
        connection: Connection::PerCall,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |text: String| {
            text.parse::<usize>()
                .map_err(|e| format!("{flag} {text}: {e}"))
        };
        match flag.as_str() {
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--state-dir" => state_dir = Some(PathBuf::from(value()?)),
            "--wharf-pid" => {
                let text = value()?;
                wharf_pid = Some(text.parse().map_err(|e| format!("{flag} {text}: {e}"))?);
            }
            "--kernel-netns" => kernel_netns = Some(PathBuf::from(value()?)),
            "--endpoints" => opts.endpoints = number(value()?)?,
            "--window" => opts.window = number(value()?)?,
            "--pool" => opts.pool = value()?,
            "--progress" => opts.progress = number(value()?)?,
            "--keep-alive" => opts.connection = Connection::KeepAlive,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let missing = |name: &str| format!("{name} is required");
    opts.socket = socket.ok_or_else(|| missing("--socket"))?;
    opts.state_dir = state_dir.ok_or_else(|| missing("--state-dir"))?;
    opts.wharf_pid = wharf_pid.ok_or_else(|| missing("--wharf-pid"))?;
    opts.kernel_netns = kernel_netns.ok_or_else(|| missing("--kernel-netns"))?;
    if opts.window == 0 || opts.endpoints < opts.window {
        return Err(format!(
            "need 1 <= window ({}) <= endpoints ({})",
            opts.window, opts.endpoints
        ));
    }
    opts.progress = opts.progress.max(1);
    Ok(opts)
}

/// Everything measured, per endpoint in set-up order.
struct Measured {
    wharf: Vec<SetUpTimes>,
    kernel: Vec<Duration>,
    /// VmRSS (bytes) after CreateNetwork, and after the last endpoint.
    rss_before: u64,
    rss_after: u64,
    /// The state directory's files and their sizes after the last endpoint.
    state_files: Vec<(String, u64)>,
    /// Tear-down of the last `window` endpoints.
    wharf_teardown: Vec<Duration>,
    kernel_teardown: Vec<Duration>,
    /// Wall time of the set-up phase (both sides and the bookkeeping).
    setup_wall: Duration,
    /// wharf's CPU time (user, system) spent during the set-up phase.
    setup_cpu: (Duration, Duration),
    /// wharf's CPU time (user, system) so far at the start of each tenth of the set-up phase
    /// and at its end: its own work per endpoint, by fill level, whatever it waited for.
    cpu_by_tenth: Vec<(Duration, Duration)>,
    /// Bytes wharf caused to be written to storage during the set-up phase.
    setup_disk_writes: u64,
}

fn main() {
    let opts = match parse_args() {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("scale_bench: {e}");
            std::process::exit(2);
        }
    };
    // The whole run happens on a thread inside the kernel side's namespace: its netlink socket
    // and /proc/sys/net are that namespace's. wharf's socket is a path, reachable from there.
    let measured = match run_in_netns(&opts.kernel_netns, || measure(&opts)) {
        Ok(Ok(measured)) => measured,
        Ok(Err(e)) => {
            eprintln!("scale_bench: {e}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("scale_bench: {e}");
            std::process::exit(1);
        }
    };
    report(&opts, &measured);
}

fn measure(opts: &Options) -> Result<Measured, String> {
    let mut kernel = KernelSide::open()?;
    let client = PluginClient::new(&opts.socket, opts.connection);
    let mut network = WharfNetwork::create(client, &opts.pool)?;
    let gateway: IpAddr = network
        .gateway
        .parse()
        .map_err(|e| format!("gateway {:?} from wharf: {e}", network.gateway))?;
    let rss_before = rss_bytes(opts.wharf_pid)?;

    let mut wharf_times = Vec::with_capacity(opts.endpoints);
    let mut kernel_times = Vec::with_capacity(opts.endpoints);
    let mut endpoints: Vec<WharfEndpoint> = Vec::with_capacity(opts.endpoints);
    let cpu_before = cpu_time(opts.wharf_pid)?;
    let disk_before = disk_writes(opts.wharf_pid)?;
    let tenth = tenth_size(opts);
    let mut cpu_by_tenth = Vec::new();
    let started = Instant::now();
    for n in 0..opts.endpoints {
        if n % tenth == 0 {
            cpu_by_tenth.push(cpu_time(opts.wharf_pid)?);
        }
        let (endpoint, times) = network.set_up(n)?;
        let address: IpAddr = endpoint
            .address
            .parse()
            .map_err(|e| format!("address {:?} from wharf: {e}", endpoint.address))?;
        let t0 = Instant::now();
        kernel.set_up(&KernelEndpoint {
            index: n,
            endpoint_id: &endpoint.id,
            gateway,
            address,
        })?;
        kernel_times.push(t0.elapsed());
        wharf_times.push(times);
        endpoints.push(endpoint);
        if (n + 1) % opts.progress == 0 || n + 1 == opts.endpoints {
            progress(n + 1, opts, &wharf_times, &kernel_times, started.elapsed());
        }
    }
    let setup_wall = started.elapsed();
    let cpu_after = cpu_time(opts.wharf_pid)?;
    cpu_by_tenth.push(cpu_after);
    let setup_cpu = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    let setup_disk_writes = disk_writes(opts.wharf_pid)?.saturating_sub(disk_before);
    let rss_after = rss_bytes(opts.wharf_pid)?;
    let state_files = state_files(opts)?;

    // Tear-down of the newest `window`, newest first, interleaved like the set-up.
    let mut wharf_teardown = Vec::with_capacity(opts.window);
    let mut kernel_teardown = Vec::with_capacity(opts.window);
    for n in (opts.endpoints - opts.window..opts.endpoints).rev() {
        let t0 = Instant::now();
        network.tear_down(&endpoints[n])?;
        wharf_teardown.push(t0.elapsed());
        let t0 = Instant::now();
        kernel.tear_down(n)?;
        kernel_teardown.push(t0.elapsed());
    }
    Ok(Measured {
        wharf: wharf_times,
        kernel: kernel_times,
        rss_before,
        rss_after,
        state_files,
        wharf_teardown,
        kernel_teardown,
        setup_wall,
        setup_cpu,
        cpu_by_tenth,
        setup_disk_writes,
    })
}

/// Endpoints per tenth of the run (at least a window).
fn tenth_size(opts: &Options) -> usize {
    (opts.endpoints / 10).max(opts.window).max(1)
}

fn progress(
    done: usize,
    opts: &Options,
    wharf: &[SetUpTimes],
    kernel: &[Duration],
    elapsed: Duration,
) {
    let recent = opts.progress.min(done);
    let wharf: Vec<Duration> = wharf[done - recent..].iter().map(|t| t.total()).collect();
    let w = spread(&wharf).median;
    let k = spread(&kernel[done - recent..]).median;
    println!(
        "  {done:>6}/{}  last {recent}: wharf {w:6.2} ms, kernel {k:5.2} ms, wharf's part {:6.2} ms (medians)  {:6.1} s",
        opts.endpoints,
        w - k,
        elapsed.as_secs_f64()
    );
}

/// VmRSS of a process, in bytes.
fn rss_bytes(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no VmRSS line in {path}"))
}

/// A process's CPU time so far (user, system), all its threads, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Result<(Duration, Duration), String> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    // The fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime 14, stime 15 (proc(5)).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("no command name in {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| format!("no field {} in {path}", i + 3))
    };
    // USER_HZ is 100 on Linux for every architecture this runs on.
    let to_duration = |t: u64| Duration::from_millis(t * 10);
    Ok((to_duration(ticks(11)?), to_duration(ticks(12)?)))
}

/// `write_bytes` of `/proc/PID/io`: what the process caused to be written to storage so far.
fn disk_writes(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/io");
    let io = fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))
        .and_then(|bytes| bytes.trim().parse().ok())
        .ok_or_else(|| format!("no write_bytes line in {path}"))
}

/// Name and size of every regular file in the state directory, sorted by name.
fn state_files(opts: &Options) -> Result<Vec<(String, u64)>, String> {
    let dir = &opts.state_dir;
    let entries = fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("read {}: {e}", dir.display()))?;
        let meta = entry
            .metadata()
            .map_err(|e| format!("stat {}: {e}", entry.path().display()))?;
        if meta.is_file() {
            files.push((entry.file_name().to_string_lossy().into_owned(), meta.len()));
        }
    }
    files.sort();
    Ok(files)
}

fn report(opts: &Options, m: &Measured) {
    let n = opts.endpoints;
    let w = opts.window;
    let wharf: Vec<Duration> = m.wharf.iter().map(SetUpTimes::total).collect();
    let (wf, wl) = ends(&wharf, w);
    let (kf, kl) = ends(&m.kernel, w);
    let (wharf_first, wharf_last) = (spread(wf), spread(wl));
    let (kernel_first, kernel_last) = (spread(kf), spread(kl));
    let part_first = wharf_first.median - kernel_first.median;
    let part_last = wharf_last.median - kernel_last.median;

    println!();
    println!(
        "=== scale of one routed network: {n} endpoints, window {w}, {} ({} cores)",
        opts.connection.describe(),
        std::thread::available_parallelism().map_or(0, |c| c.get())
    );
    println!(
        "set-up of one endpoint, ms        first {w:<5}          last {w:<5}          last/first"
    );
    println!(
        "                                  median    p90        median    p90        (medians)"
    );
    let row = |name: &str, first: Spread, last: Spread| {
        println!(
            "{name:<32} {:>7.3} {:>7.3}     {:>7.3} {:>7.3}     {:>6.2}",
            first.median,
            first.p90,
            last.median,
            last.p90,
            last.median / first.median
        );
    };
    row(
        "wharf (RequestAddress+Create+Join)",
        wharf_first,
        wharf_last,
    );
    row(
        "kernel alone (netlink, /proc/sys)",
        kernel_first,
        kernel_last,
    );
    println!(
        "{:<32} {part_first:>7.3}             {part_last:>7.3}             {:>6.2}   (target <= 1.25)",
        "wharf's part (wharf - kernel)",
        part_last / part_first
    );
    println!(
        "wharf / kernel                   {:>7.2}             {:>7.2}",
        wharf_first.median / kernel_first.median,
        wharf_last.median / kernel_last.median
    );
    let call_row = |name: &str, pick: fn(&SetUpTimes) -> Duration| {
        let times: Vec<Duration> = m.wharf.iter().map(pick).collect();
        let (first, last) = ends(&times, w);
        let (first, last) = (spread(first), spread(last));
        println!(
            "  {name:<30} {:>7.3} {:>7.3}     {:>7.3} {:>7.3}     {:>6.2}",
            first.median,
            first.p90,
            last.median,
            last.p90,
            last.median / first.median
        );
    };
    call_row("of which RequestAddress", |t| t.request_address);
    call_row("of which CreateEndpoint", |t| t.create_endpoint);
    call_row("of which Join", |t| t.join);

    blocks(opts, &wharf, &m.kernel, &m.cpu_by_tenth);

    let rss_per = (m.rss_after as f64 - m.rss_before as f64) / n as f64;
    println!(
        "wharf memory: VmRSS {:.1} MiB after CreateNetwork, {:.1} MiB after {n} endpoints: {rss_per:.0} bytes an endpoint",
        m.rss_before as f64 / 1048576.0,
        m.rss_after as f64 / 1048576.0
    );
    let state_bytes: u64 = m.state_files.iter().map(|(_, len)| len).sum();
    let listing: Vec<String> = m
        .state_files
        .iter()
        .map(|(name, len)| format!("{name} {len} B"))
        .collect();
    println!(
        "wharf state after {n} endpoints: {} = {state_bytes} B: {:.0} bytes an endpoint",
        listing.join(", "),
        state_bytes as f64 / n as f64
    );
    let (wt, kt) = (spread(&m.wharf_teardown), spread(&m.kernel_teardown));
    println!(
        "tear-down of the last {w}: wharf Leave+DeleteEndpoint+ReleaseAddress median {:.2} ms (p90 {:.2}), \
         kernel delete_link median {:.2} ms (p90 {:.2}); wharf/kernel {:.2}",
        wt.median,
        wt.p90,
        kt.median,
        kt.p90,
        wt.median / kt.median
    );
    println!(
        "time: set-up phase {:.1} s wall, of which wharf's calls {:.1} s and the kernel side {:.1} s",
        m.setup_wall.as_secs_f64(),
        total_secs(&wharf),
        total_secs(&m.kernel)
    );
    println!(
        "wharf's CPU time in the set-up phase: {:.1} s user + {:.1} s system (the rest of its calls' time it waited: disk, locks, scheduling)",
        m.setup_cpu.0.as_secs_f64(),
        m.setup_cpu.1.as_secs_f64()
    );
    println!(
        "wharf's writes to storage in the set-up phase: {:.1} MiB, {:.1} KiB an endpoint (state files at the end: {:.1} MiB)",
        m.setup_disk_writes as f64 / 1048576.0,
        m.setup_disk_writes as f64 / 1024.0 / n as f64,
        state_bytes as f64 / 1048576.0
    );
}

/// Medians per tenth of the run, to show how each side grows with the fill level, and wharf's
/// own CPU time per endpoint in that tenth (user: its code; system: the kernel working for
/// it), which waiting for the disk or the scheduler does not inflate.
fn blocks(opts: &Options, wharf: &[Duration], kernel: &[Duration], cpu: &[(Duration, Duration)]) {
    let size = tenth_size(opts);
    println!("medians by fill level, ms         wharf  kernel  wharf's part   wharf CPU an endpoint: user  system");
    for (i, start) in (0..opts.endpoints).step_by(size).enumerate() {
        let end = (start + size).min(opts.endpoints);
        let w = spread(&wharf[start..end]).median;
        let k = spread(&kernel[start..end]).median;
        let per = |pick: fn(&(Duration, Duration)) -> Duration| match (cpu.get(i), cpu.get(i + 1)) {
            (Some(a), Some(b)) => {
                (pick(b).saturating_sub(pick(a))).as_secs_f64() * 1e3 / (end - start) as f64
            }
            _ => f64::NAN,
        };
        println!(
            "  endpoints {:>6}-{:<6}        {w:>6.2}  {k:>6.2}  {:>6.2}                         {:>6.3}  {:>6.3}",
            start + 1,
            end,
            w - k,
            per(|c| c.0),
            per(|c| c.1)
        );
    }
}
