//! A socketmap load generator and a no-op socketmap server, for `scripts/bench-daemon`.
//!
//! ```text
//! socketmap-load load ADDR KEYS_FILE CONNECTIONS SECONDS [MAP_NAME]
//!     C connections, each as Postfix does: one request, wait for the reply, the next; keys
//!     taken in turn from KEYS_FILE (one per line). Prints one JSON line: lookups, lookups/s,
//!     p50/p99/max in microseconds, replies by kind.
//! socketmap-load noop ADDR
//!     serves every request with `OK secure match=mx.example.com servername=hostname` at once
//!     (mailsec's own server code with a fixed handler): the ceiling the load generator reaches.
//! ```
//!
//! ADDR is `HOST:PORT` or `unix:PATH`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailsec_core::socketmap::{self, Reply};
use mailsec_daemon::handler::FixedHandler;
use mailsec_daemon::server::{ListenAddr, Listener, ServerLimits, serve};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("noop") => noop(&args[2]).await,
        Some("load") => {
            let keys: Vec<String> = std::fs::read_to_string(&args[3])
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            let conns: usize = args[4].parse().unwrap();
            let secs: f64 = args[5].parse().unwrap();
            let name = args.get(6).cloned().unwrap_or_else(|| "postfix".into());
            load(
                &args[2],
                Arc::new(keys),
                conns,
                Duration::from_secs_f64(secs),
                &name,
            )
            .await;
        }
        _ => {
            eprintln!(
                "usage: socketmap-load load ADDR KEYS CONNECTIONS SECONDS [NAME] | noop ADDR"
            );
            std::process::exit(2);
        }
    }
}

async fn noop(addr: &str) {
    let listener = Listener::bind(&ListenAddr::parse(addr).unwrap())
        .await
        .unwrap();
    println!("noop: listening on {}", listener.local_addr());
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let handler = Arc::new(FixedHandler(Reply::Ok(
        "secure match=mx.example.com servername=hostname".into(),
    )));
    serve(listener, handler, ServerLimits::default(), rx).await;
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn connect(addr: &str) -> Box<dyn Io> {
    match addr.strip_prefix("unix:") {
        Some(p) => Box::new(tokio::net::UnixStream::connect(p).await.unwrap()),
        None => {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            Box::new(s)
        }
    }
}

async fn load(addr: &str, keys: Arc<Vec<String>>, conns: usize, run: Duration, name: &str) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|c| {
            let (keys, addr, name) = (keys.clone(), addr.to_owned(), name.to_owned());
            tokio::spawn(async move {
                let mut io = connect(&addr).await;
                let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
                let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
                let (mut buf, mut req) = (Vec::with_capacity(4096), Vec::with_capacity(256));
                let mut i = c * 7919;
                let started = Instant::now();
                while started.elapsed() < run {
                    req.clear();
                    socketmap::encode(
                        format!("{name} {}", keys[i % keys.len()]).as_bytes(),
                        &mut req,
                    );
                    i += 1;
                    let t = Instant::now();
                    io.write_all(&req).await.unwrap();
                    let reply = loop {
                        if let Some(f) = socketmap::decode(&buf, 100_000).unwrap() {
                            let r = String::from_utf8_lossy(f.payload(&buf)).into_owned();
                            buf.drain(..f.consumed);
                            break r;
                        }
                        let mut chunk = [0u8; 4096];
                        let n = io.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "server closed the connection");
                        buf.extend_from_slice(&chunk[..n]);
                    };
                    lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                    let kind = reply.split(' ').take(2).collect::<Vec<_>>().join(" ");
                    *kinds.entry(kind).or_default() += 1;
                }
                (lat, kinds)
            })
        })
        .collect();
    let mut all: Vec<u32> = Vec::new();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for t in tasks {
        let (lat, k) = t.await.unwrap();
        all.extend(lat);
        for (kind, n) in k {
            *kinds.entry(kind).or_default() += n;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize];
    println!(
        "{}",
        serde_json::json!({
            "connections": conns,
            "lookups": all.len(),
            "seconds": wall,
            "lookups_per_second": all.len() as f64 / wall,
            "p50_us": pct(0.50),
            "p99_us": pct(0.99),
            "max_us": all.last(),
            "replies": kinds,
        })
    );
}
