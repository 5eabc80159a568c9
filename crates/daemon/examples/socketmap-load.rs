//! A socketmap load generator, and the no-op server it is measured against (benchmarks only;
//! see `scripts/bench-daemon` and BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p mailsec-daemon --example socketmap-load -- \
//!     [--connections C] [--duration SECS | --requests N] [--keys FILE | --key KEY...] \
//!     [--name NAME] [--expect PREFIX] [--threads T] [--json] ADDR
//! cargo run --release -p mailsec-daemon --example socketmap-load -- noop [--listen ADDR]
//! ```
//!
//! ADDR is `HOST:PORT` or `unix:PATH`. Each of the C connections does what Postfix's
//! `dict_sockmap` does: one request (`NAME KEY` as a netstring), wait for the reply, the next
//! request. Request number t of the run (counted over all connections) asks key `t mod K` of the
//! K keys, so `--requests K` asks each key exactly once. The run stops after SECS seconds or N
//! requests in all. A connection the server closes between two
//! requests (its idle or lifetime limit) is opened again and the request sent once more, as
//! Postfix does. Printed: one line with lookups/s and the latency of each request (p50, p99,
//! max, from the request's first byte written to the reply's last byte read) and how the
//! replies begin (`OK`, `NOTFOUND`, `TEMP`, other; with `--expect PREFIX`, how many did not
//! begin with it); `--json` prints the same as one JSON object.
//!
//! `noop` serves `mailsec_daemon::server::serve` with [`FixedHandler`] (default reply
//! `OK secure match=mx.example.com servername=hostname`) on a runtime of two worker threads like
//! `mailsec daemon`'s: the ceiling of the server framework and of this client on the machine.
//! It prints `listening on ADDR` and runs until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use mailsec_core::socketmap::{self, Reply};
use mailsec_daemon::handler::FixedHandler;
use mailsec_daemon::server::{ListenAddr, Listener, ServerLimits, serve};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

#[derive(Debug, Parser)]
#[command(about = "Socketmap load generator (request, reply, next request) and no-op server")]
struct Cli {
    #[command(subcommand)]
    noop: Option<Noop>,
    /// The server: HOST:PORT or unix:PATH.
    addr: Option<String>,
    /// Connections at once, each one request at a time.
    #[arg(long, short = 'c', default_value_t = 1)]
    connections: usize,
    /// Seconds to run (ignored with --requests).
    #[arg(long, short = 'd', default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests in all.
    #[arg(long, short = 'n')]
    requests: Option<u64>,
    /// The keys, one a line.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// A key (repeatable); default `example.com` when no --keys.
    #[arg(long)]
    key: Vec<String>,
    /// The socketmap name.
    #[arg(long, default_value = "postfix")]
    name: String,
    /// Count replies that do not begin with this.
    #[arg(long)]
    expect: Option<String>,
    /// Seconds to wait for one reply before the connection counts as failed.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Threads of the client's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Noop {
    /// Serve a fixed reply at once (the ceiling).
    Noop {
        /// Where to listen: HOST:PORT or unix:PATH.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// The reply after `OK `.
        #[arg(
            long,
            default_value = "secure match=mx.example.com servername=hostname"
        )]
        reply: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match &cli.noop {
        Some(Noop::Noop { listen, reply }) => noop(listen, reply),
        None => load(&cli),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socketmap-load: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn noop(listen: &str, reply: &str) -> Result<(), String> {
    let addr = ListenAddr::parse(listen)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener = Listener::bind(&addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        println!("listening on {}", listener.local_addr());
        let (tx, rx) = tokio::sync::watch::channel(false);
        let handler = Arc::new(FixedHandler(Reply::Ok(reply.to_owned())));
        let server = tokio::spawn(serve(listener, handler, ServerLimits::default(), rx));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
        let _ = server.await;
        Ok(())
    })
}

/// What one connection measured.
#[derive(Default)]
struct Tally {
    latencies_ns: Vec<u64>,
    ok: u64,
    notfound: u64,
    temp: u64,
    other: u64,
    unexpected: u64,
    first_unexpected: Option<String>,
    reconnects: u64,
    error: Option<String>,
}

fn load(cli: &Cli) -> Result<(), String> {
    let Some(addr) = cli.addr.clone() else {
        return Err("no server address (HOST:PORT or unix:PATH)".into());
    };
    let target = ListenAddr::parse(&addr)?;
    let keys: Vec<String> = match &cli.keys {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None if cli.key.is_empty() => vec!["example.com".to_owned()],
        None => cli.key.clone(),
    };
    if keys.is_empty() {
        return Err("no keys".into());
    }
    // Every request, encoded once.
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        keys.iter()
            .map(|k| {
                let mut out = Vec::new();
                socketmap::encode(format!("{} {k}", cli.name).as_bytes(), &mut out);
                out
            })
            .collect(),
    );
    let connections = cli.connections.max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let tickets = Arc::new(AtomicU64::new(0));
    let limit = cli.requests.unwrap_or(u64::MAX);
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let expect = cli.expect.clone();
    let (tallies, secs) = rt.block_on(async {
        // Every connection is opened before the clock starts.
        let mut conns = Vec::with_capacity(connections);
        for _ in 0..connections {
            conns.push(connect(&target).await.map_err(|e| format!("{addr}: {e}"))?);
        }
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(connections);
        for io in conns {
            let job = Job {
                target: target.clone(),
                requests: requests.clone(),
                stop: stop.clone(),
                tickets: tickets.clone(),
                limit,
                timeout,
                expect: expect.clone(),
            };
            tasks.push(tokio::spawn(job.run(io)));
        }
        if cli.requests.is_none() {
            let stop = stop.clone();
            let d = Duration::from_secs_f64(cli.duration.max(0.001));
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                stop.store(true, Ordering::Relaxed);
            });
        }
        let mut tallies = Vec::with_capacity(connections);
        for t in tasks {
            tallies.push(t.await.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>((tallies, started.elapsed().as_secs_f64()))
    })?;
    report(cli, &addr, connections, &tallies, secs);
    match tallies.iter().find_map(|t| t.error.clone()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct Job {
    target: ListenAddr,
    requests: Arc<Vec<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    tickets: Arc<AtomicU64>,
    limit: u64,
    timeout: Duration,
    expect: Option<String>,
}

impl Job {
    async fn run(self, mut io: Box<dyn Io>) -> Tally {
        let mut t = Tally::default();
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        while !self.stop.load(Ordering::Relaxed) {
            let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
            if ticket >= self.limit {
                break;
            }
            let i = usize::try_from(ticket % self.requests.len() as u64).unwrap_or(0);
            let request = &self.requests[i];
            let began = Instant::now();
            let mut answer = exchange(&mut io, request, &mut buf, self.timeout).await;
            if let Err(Failure::Closed) = answer {
                // The server closed the connection between two requests: once more on a new
                // one (Postfix's dict_sockmap does the same).
                t.reconnects += 1;
                match connect(&self.target).await {
                    Ok(c) => io = c,
                    Err(e) => {
                        t.error = Some(format!("reconnect: {e}"));
                        break;
                    }
                }
                answer = exchange(&mut io, request, &mut buf, self.timeout).await;
            }
            let took = began.elapsed();
            let payload = match answer {
                Ok(p) => p,
                Err(e) => {
                    t.error = Some(e.to_string());
                    break;
                }
            };
            t.latencies_ns
                .push(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
            let text = String::from_utf8_lossy(&payload);
            match text.split(' ').next().unwrap_or_default() {
                "OK" => t.ok += 1,
                "NOTFOUND" => t.notfound += 1,
                "TEMP" => t.temp += 1,
                _ => t.other += 1,
            }
            if let Some(e) = &self.expect
                && !text.starts_with(e.as_str())
            {
                t.unexpected += 1;
                if t.first_unexpected.is_none() {
                    let key = String::from_utf8_lossy(request);
                    t.first_unexpected = Some(format!("{key} -> {text}"));
                }
            }
        }
        t
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

async fn connect(target: &ListenAddr) -> std::io::Result<Box<dyn Io>> {
    Ok(match target {
        ListenAddr::Tcp(a) => {
            let s = TcpStream::connect(a).await?;
            s.set_nodelay(true)?;
            Box::new(s)
        }
        ListenAddr::Unix(p) => Box::new(UnixStream::connect(p).await?),
    })
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the server closed the connection before replying")]
    Closed,
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("malformed reply: {0}")]
    Netstring(#[from] socketmap::NetstringError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// One request written, its reply read; the reply's payload.
async fn exchange(
    io: &mut Box<dyn Io>,
    request: &[u8],
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let round = async {
        if let Err(e) = io.write_all(request).await {
            return Err(closed_or(e));
        }
        buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(frame) = socketmap::decode(buf, socketmap::MAX_REPLY_LEN)? {
                let payload = frame.payload(buf).to_vec();
                buf.drain(..frame.consumed);
                return Ok(payload);
            }
            let n = io.read(&mut chunk).await.map_err(closed_or)?;
            if n == 0 {
                return Err(Failure::Closed);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(timeout, round)
        .await
        .unwrap_or(Err(Failure::Timeout(timeout)))
}

fn closed_or(e: std::io::Error) -> Failure {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    if matches!(e.kind(), BrokenPipe | ConnectionReset | ConnectionAborted) {
        Failure::Closed
    } else {
        Failure::Io(e)
    }
}

fn report(cli: &Cli, addr: &str, connections: usize, tallies: &[Tally], secs: f64) {
    let mut all: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.latencies_ns.iter().copied())
        .collect();
    all.sort_unstable();
    let n = all.len() as u64;
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        // Nearest rank.
        let rank = ((p / 100.0) * all.len() as f64).ceil() as usize;
        all[rank.clamp(1, all.len()) - 1] as f64 / 1e6
    };
    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let (p50, p99, max) = (pct(50.0), pct(99.0), pct(100.0));
    let first_unexpected = tallies.iter().find_map(|t| t.first_unexpected.clone());
    let error = tallies.iter().find_map(|t| t.error.clone());
    if cli.json {
        let v = serde_json::json!({
            "addr": addr,
            "connections": connections,
            "requests": n,
            "secs": secs,
            "lookups_per_sec": rate,
            "p50_ms": p50,
            "p99_ms": p99,
            "max_ms": max,
            "ok": sum(|t| t.ok),
            "notfound": sum(|t| t.notfound),
            "temp": sum(|t| t.temp),
            "other": sum(|t| t.other),
            "unexpected": sum(|t| t.unexpected),
            "first_unexpected": first_unexpected,
            "reconnects": sum(|t| t.reconnects),
            "error": error,
        });
        println!("{v}");
    } else {
        println!(
            "{addr} connections={connections} requests={n} secs={secs:.2} lookups/s={rate:.0} \
             p50={p50:.3}ms p99={p99:.3}ms max={max:.3}ms ok={} notfound={} temp={} other={} \
             unexpected={} reconnects={}{}",
            sum(|t| t.ok),
            sum(|t| t.notfound),
            sum(|t| t.temp),
            sum(|t| t.other),
            sum(|t| t.unexpected),
            sum(|t| t.reconnects),
            first_unexpected.map_or_else(String::new, |u| format!(" first-unexpected=[{u}]"))
        );
    }
}
