//! The socketmap server (Postfix `socketmap_table(5)`): netstring requests `name key`, netstring
//! replies, on TCP or unix sockets.
//!
//! - Pipelined requests are answered in order, and looked up concurrently (at most
//!   [`ServerLimits::pipeline`] at once per connection).
//! - A connection is closed, with one log line, on a malformed netstring, a request longer than
//!   [`ServerLimits::max_request`], a write that does not complete in
//!   [`ServerLimits::write_timeout`] (a client that stops reading), after
//!   [`ServerLimits::idle_timeout`] without a request, and once idle after
//!   [`ServerLimits::max_lifetime`]; both below Postfix's own 10 s idle and 100 s lifetime
//!   (`dict_sockmap.c`), so that Postfix never writes to a connection the server is closing.
//! - At most [`ServerLimits::max_connections`] at once; one more is accepted and closed at once.
//!
//! What a request means is the [`Handler`]'s business.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use mailsec_core::socketmap::{self, Reply, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

/// Answers one request.
pub trait Handler: Send + Sync + 'static {
    /// The reply to `request`.
    fn reply(
        self: Arc<Self>,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Reply> + Send + 'static>>;
}

/// Limits of the server.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// Longest request payload (`name key`), bytes.
    pub max_request: usize,
    /// Most requests of one connection looked up at once.
    pub pipeline: usize,
    /// Most connections at once.
    pub max_connections: usize,
    /// A connection without a request for this long is closed.
    pub idle_timeout: Duration,
    /// A connection this old is closed when idle.
    pub max_lifetime: Duration,
    /// A reply that cannot be written in this time closes the connection.
    pub write_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_request: 2_048,
            pipeline: 64,
            max_connections: 1_024,
            idle_timeout: Duration::from_secs(9),
            max_lifetime: Duration::from_secs(90),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// Where to listen: `HOST:PORT` or `unix:PATH`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ListenAddr {
    /// TCP.
    Tcp(String),
    /// A unix socket.
    Unix(PathBuf),
}

impl ListenAddr {
    /// Parses `HOST:PORT` or `unix:PATH`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!("listen address `{s}`: empty unix socket path"));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Self::Tcp(s.to_owned()))
            }
            _ => Err(format!(
                "listen address `{s}`: expected HOST:PORT or unix:PATH"
            )),
        }
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(a) => f.write_str(a),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A bound listener.
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A unix socket (its path, removed when the listener is dropped by [`serve`]).
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Binds `addr`. A stale unix socket file is replaced; any other file is refused.
    pub async fn bind(addr: &ListenAddr) -> std::io::Result<Self> {
        match addr {
            ListenAddr::Tcp(a) => Ok(Self::Tcp(TcpListener::bind(a).await?)),
            ListenAddr::Unix(path) => {
                use std::os::unix::fs::FileTypeExt;
                if let Ok(meta) = std::fs::symlink_metadata(path) {
                    if meta.file_type().is_socket() {
                        std::fs::remove_file(path)?;
                    } else {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            format!("{} exists and is not a socket", path.display()),
                        ));
                    }
                }
                Ok(Self::Unix(UnixListener::bind(path)?, path.clone()))
            }
        }
    }

    /// The bound address, as `HOST:PORT` or `unix:PATH`.
    pub fn local_addr(&self) -> String {
        match self {
            Self::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "?".to_owned(), |a| a.to_string()),
            Self::Unix(_, p) => format!("unix:{}", p.display()),
        }
    }
}

/// Serves `listener` until `shutdown` turns true, then stops accepting and lets open
/// connections finish their pending requests (a graceful drain).
pub async fn serve(
    listener: Listener,
    handler: Arc<dyn Handler>,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted: std::io::Result<Box<dyn Conn>> = tokio::select! {
            () = stopped(&mut shutdown) => break,
            a = accept(&listener) => a,
        };
        let stream = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(listener = listener.local_addr(), error = %e, "accept failed");
                // EMFILE and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                listener = listener.local_addr(),
                limit = limits.max_connections,
                "connection limit reached: connection closed"
            );
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        // Every event of the connection (the handler's `answered` lines at debug level) names
        // the listener it came through.
        let span = tracing::debug_span!("socketmap", listener = %listener.local_addr());
        tasks.spawn(
            async move {
                if let Err(why) = connection(stream, handler, limits, shutdown).await {
                    tracing::info!(reason = %why, "socketmap connection closed");
                }
                drop(permit);
            }
            .instrument(span),
        );
        // Reap finished connections so that the set does not grow.
        while tasks.try_join_next().is_some() {}
    }
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

trait Conn: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Conn for T {}

async fn accept(listener: &Listener) -> std::io::Result<Box<dyn Conn>> {
    Ok(match listener {
        Listener::Tcp(l) => {
            let (s, _) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Box::new(s)
        }
        Listener::Unix(l, _) => Box::new(l.accept().await?.0),
    })
}

/// Why a connection ended (logged; a clean close by the client is `Ok`).
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("malformed request: {0}")]
    Netstring(#[from] socketmap::NetstringError),
    #[error("idle for {0:?}")]
    Idle(Duration),
    #[error("lifetime of {0:?} reached")]
    Lifetime(Duration),
    #[error("client did not read its replies within {0:?}")]
    WriteTimeout(Duration),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("client closed the connection in the middle of a request")]
    Truncated,
    #[error("shutting down")]
    Shutdown,
}

async fn connection(
    mut io: Box<dyn Conn>,
    handler: Arc<dyn Handler>,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ConnError> {
    let born = Instant::now();
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    let mut pending = FuturesOrdered::new();
    let mut out = Vec::with_capacity(256);
    let mut eof = false;
    loop {
        // Frame every whole request buffered, up to the pipeline depth.
        while pending.len() < limits.pipeline.max(1) {
            match socketmap::decode(&buf, limits.max_request)? {
                None => break,
                Some(frame) => {
                    let reply = match Request::parse(frame.payload(&buf)) {
                        Ok(req) => handler.clone().reply(req),
                        Err(e) => {
                            // A well-framed request that is not `name key`: a defined reply,
                            // the connection stays.
                            let r = Reply::Perm(e.to_string());
                            Box::pin(async move { r })
                        }
                    };
                    pending.push_back(reply);
                    buf.drain(..frame.consumed);
                }
            }
        }
        if eof && pending.is_empty() {
            return if buf.is_empty() {
                Ok(())
            } else {
                Err(ConnError::Truncated)
            };
        }
        let idle = pending.is_empty();
        if idle && born.elapsed() >= limits.max_lifetime {
            return Err(ConnError::Lifetime(limits.max_lifetime));
        }
        let can_read = !eof && pending.len() < limits.pipeline.max(1);
        tokio::select! {
            biased;
            Some(reply) = pending.next(), if !pending.is_empty() => {
                out.clear();
                reply.encode(&mut out);
                match tokio::time::timeout(limits.write_timeout, io.write_all(&out)).await {
                    Ok(r) => r?,
                    Err(_) => return Err(ConnError::WriteTimeout(limits.write_timeout)),
                }
            }
            n = io.read(&mut chunk), if can_read => {
                let n = n?;
                if n == 0 {
                    eof = true;
                } else {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
            _ = tokio::time::sleep(limits.idle_timeout), if idle => {
                return Err(ConnError::Idle(limits.idle_timeout));
            }
            () = stopped(&mut shutdown), if idle => {
                return Err(ConnError::Shutdown);
            }
        }
    }
}

/// Resolves once `shutdown` is true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await.map(|_| ());
}
