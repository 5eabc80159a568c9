//! Real database servers of their own for the tests, in temporary directories on free loopback
//! ports: PostgreSQL (initdb and pg_ctl) and Redis (redis-server). Both come from Debian
//! (`scripts/install-lab-packages`); a missing program is an error, never a skip.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL server in a temporary directory, run as the `postgres` user when the tests run
/// as root (the server refuses root). Stopped when dropped.
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    root: bool,
}

impl TempPostgres {
    /// initdb, then pg_ctl start; trust authentication for the user `mailsec`.
    pub fn start() -> Result<Self, String> {
        let bin = pg_bindir().ok_or(
            "PostgreSQL server programs (initdb, pg_ctl) not found: run scripts/install-lab-packages",
        )?;
        let root = is_root();
        // Under /tmp as root: the postgres user must reach it (TMPDIR may be root's own).
        let dir = if root {
            tempfile::Builder::new()
                .prefix("mailsec-pg")
                .tempdir_in("/tmp")
        } else {
            tempfile::tempdir()
        }
        .map_err(|e| format!("temporary directory: {e}"))?;
        if root {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err("cannot give the directory to the postgres user".into());
            }
        }
        let pg = Self {
            dir,
            bin,
            port: free_port()?,
            root,
        };
        let data = pg.dir.path().join("data");
        let o = pg.as_owner(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "mailsec".as_ref(),
                "--auth=trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        if !o.status.success() {
            return Err(format!("initdb failed: {}", text(&o)));
        }
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            pg.port,
            pg.dir.path().display()
        );
        let log = pg.dir.path().join("server.log");
        let o = pg.as_owner(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )?;
        if !o.status.success() {
            return Err(format!(
                "the PostgreSQL server did not start: {}{}",
                text(&o),
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        Ok(pg)
    }

    /// `postgres://mailsec@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://mailsec@127.0.0.1:{}/postgres", self.port)
    }

    /// One value from `psql`.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let o = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-d", &self.url(), "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if !o.status.success() {
            return Err(format!("psql {sql}: {}", text(&o)));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned())
    }

    fn as_owner(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<Output, String> {
        let program = self.bin.join(program);
        let mut c = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        c.args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.as_owner(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "stop".as_ref(),
            ],
        );
    }
}

/// The directory of initdb and pg_ctl: Debian keeps them out of PATH, under
/// /usr/lib/postgresql/VERSION/bin (the newest wins); elsewhere, PATH.
fn pg_bindir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
    })
}

/// A Redis server on a free port, without persistence, in a temporary directory. Stopped when
/// dropped; [`TempRedis::stop`] and [`TempRedis::restart`] take it away and bring it back on
/// the same port (the daemon's outage tests).
pub struct TempRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl TempRedis {
    /// Starts `redis-server`.
    pub fn start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let mut r = Self {
            dir,
            port: free_port()?,
            child: None,
        };
        r.restart()?;
        Ok(r)
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, empty; waits until it accepts connections.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("cannot run redis-server ({e}): run scripts/install-lab-packages")
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("redis-server did not listen on {}", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TempRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
