//! The parts every mode needs: a `chiiki serve` child process, a PostgreSQL server (the one
//! given, or a private one started the way scripts/test-all does), fresh databases, and a
//! small deterministic random generator.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(message.into().into())
}

/// SplitMix64: small, fast and reproducible from a seed (simulation replays depend on it).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An exponentially distributed gap with the given mean (Poisson arrivals).
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

pub fn time_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The `chiiki` binary: `--chiiki`, else next to this program (the same cargo profile).
pub fn chiiki_binary(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    let me = std::env::current_exe()?;
    let candidate = me.with_file_name("chiiki");
    if candidate.exists() {
        Ok(candidate)
    } else {
        fail(format!(
            "no chiiki binary at {}: build it first (cargo build --release -p chiiki-backend) or pass --chiiki",
            candidate.display()
        ))
    }
}

/// A running `chiiki serve`.
pub struct Server {
    pub child: Child,
    pub url: String,
    binary: PathBuf,
    database_url: String,
    keys_file: PathBuf,
    port: u16,
}

impl Server {
    pub async fn start(binary: &Path, database_url: &str, keys_file: &Path) -> Result<Server> {
        let port = free_port()?;
        let child = spawn(binary, database_url, keys_file, port)?;
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            binary: binary.to_path_buf(),
            database_url: database_url.to_string(),
            keys_file: keys_file.to_path_buf(),
            port,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// SIGKILL: no draining, no flushing, whatever was in flight is cut.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Starts again on the same port, database and keys. Returns how long it took to answer
    /// `/readyz` (on SQLite after a kill: with the WAL read back).
    pub async fn restart(&mut self) -> Result<Duration> {
        let started = Instant::now();
        self.child = spawn(&self.binary, &self.database_url, &self.keys_file, self.port)?;
        self.wait_ready().await?;
        Ok(started.elapsed())
    }

    async fn wait_ready(&self) -> Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return fail("chiiki serve did not become ready within 60 s");
            }
            // Often enough that the time to ready is measured to a few milliseconds.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Peak resident set size so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(binary: &Path, database_url: &str, keys_file: &Path, port: u16) -> Result<Child> {
    let log = std::env::var_os("CHIIKI_BENCH_SERVER_LOG")
        // Appended to: a server started again after a kill keeps the log of the one before.
        .map(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        })
        .transpose()?;
    let (stdout, stderr) = match log {
        Some(f) => (Stdio::from(f.try_clone()?), Stdio::from(f)),
        None => (Stdio::null(), Stdio::null()),
    };
    Ok(Command::new(binary)
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", database_url])
        .arg("--keys-file")
        .arg(keys_file)
        // The demo's moved windows: the usage window and the additional sale are open today.
        .arg("--shift-to-today")
        // Every simulated phone has its own address (as behind the city's reverse proxy).
        .arg("--trust-forwarded-for")
        .args(["--drain-seconds", "0"])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()?)
}

/// A PostgreSQL server to benchmark on: `CHIIKI_BENCH_POSTGRES` or `CHIIKI_TEST_POSTGRES`
/// (an admin URL), else a private one in a temporary directory, stopped on drop.
pub struct Postgres {
    pub admin_url: String,
    private: Option<(PathBuf, PathBuf)>,
    counter: std::sync::atomic::AtomicU32,
    /// The databases this run made: see [`Postgres::finish`].
    made: std::sync::Mutex<Vec<String>>,
}

impl Postgres {
    pub fn get() -> Result<Postgres> {
        for var in ["CHIIKI_BENCH_POSTGRES", "CHIIKI_TEST_POSTGRES"] {
            if let Ok(url) = std::env::var(var)
                && !url.is_empty()
            {
                return Ok(Postgres {
                    admin_url: url,
                    private: None,
                    counter: Default::default(),
                    made: Default::default(),
                });
            }
        }
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|_| "no PostgreSQL: install it or set CHIIKI_BENCH_POSTGRES")?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .ok_or("no PostgreSQL binaries under /usr/lib/postgresql")?;
        let dir = tempfile::Builder::new()
            .prefix("chiiki-bench-pg.")
            .tempdir_in("/tmp")?
            .keep();
        let root = is_root();
        if root {
            run(Command::new("chown").arg("postgres").arg(&dir))?;
        }
        let port = free_port()?;
        let data = dir.join("data");
        run(pg_command(root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "chiiki",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]))?;
        run(pg_command(root, &bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 \
                 -c fsync=on -c synchronous_commit=on",
                dir.display()
            ))
            .arg("start"))?;
        Ok(Postgres {
            admin_url: format!("postgres://chiiki@127.0.0.1:{port}/postgres"),
            private: Some((bin, dir)),
            counter: Default::default(),
            made: Default::default(),
        })
    }

    /// The postmaster's process id of a server this program started (from its data
    /// directory's `postmaster.pid`); `None` for a server given by URL.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let (_, dir) = self.private.as_ref()?;
        let pid = std::fs::read_to_string(dir.join("data").join("postmaster.pid")).ok()?;
        pid.lines().next()?.trim().parse().ok()
    }

    /// A new, empty database on this server.
    pub async fn fresh_database(&self) -> Result<String> {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!(
            "chiiki_bench_{}_{}_{n}",
            std::process::id(),
            time_seed() % 100_000
        );
        let mut admin = sqlx::AnyConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        if let Ok(mut made) = self.made.lock() {
            made.push(name.clone());
        }
        let base = self
            .admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(&self.admin_url);
        Ok(format!("{base}/{name}"))
    }

    /// After the run, on a server it did not start: drops the databases it made there if the
    /// run succeeded, or names them if it failed, so that they can be looked into. (A private
    /// server goes with its directory.) Best effort: a failure here is reported, not fatal.
    pub async fn finish(&self, succeeded: bool) {
        use sqlx::Connection;
        if self.private.is_some() {
            return;
        }
        let made = self
            .made
            .lock()
            .map(|mut made| std::mem::take(&mut *made))
            .unwrap_or_default();
        if made.is_empty() {
            return;
        }
        if !succeeded {
            eprintln!(
                "chiiki-bench: databases kept for a look: {}",
                made.join(", ")
            );
            return;
        }
        let dropped = async {
            let mut admin = sqlx::AnyConnection::connect(&self.admin_url).await?;
            for name in &made {
                // FORCE: a server killed by the crash harness may leave sessions behind.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
            }
            admin.close().await
        };
        if let Err(e) = dropped.await {
            eprintln!("chiiki-bench: could not drop {} ({e})", made.join(", "));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some((bin, dir)) = self.private.take() {
            let _ = pg_command(is_root(), &bin.join("pg_ctl"))
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-m", "immediate", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// PostgreSQL refuses to run as root: run its tools as the postgres user Debian creates.
fn pg_command(root: bool, tool: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(tool);
        c
    } else {
        Command::new(tool)
    }
}

fn run(command: &mut Command) -> Result<()> {
    let out = command.stdin(Stdio::null()).output()?;
    if out.status.success() {
        Ok(())
    } else {
        fail(format!(
            "{:?} failed: {}",
            command,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A fresh SQLite database URL in `dir`.
pub fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// The frames of a SQLite WAL that belong to its current generation: what opening the
/// database after a crash reads back. A frame is 24 bytes of header (with the WAL's two salts
/// at bytes 8–15) and a page; the WAL's header (32 bytes) gives the page size and the salts
/// (bytes 16–23). Frames of an earlier generation, left behind when the WAL started over
/// without being cut back, have other salts and end the count. Returns the frames and their
/// bytes.
pub fn wal_frames(path: &Path) -> Result<(u64, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e.into()),
    };
    let mut header = [0u8; 32];
    if file.read_exact(&mut header).is_err() {
        return Ok((0, 0));
    }
    let page = u32::from_be_bytes([header[8], header[9], header[10], header[11]]) as u64;
    let salts = &header[16..24];
    let mut frames = 0u64;
    let mut frame = [0u8; 24];
    loop {
        file.seek(SeekFrom::Start(32 + frames * (24 + page)))?;
        if file.read_exact(&mut frame).is_err() || &frame[8..16] != salts {
            return Ok((frames, frames * (24 + page)));
        }
        frames += 1;
    }
}
