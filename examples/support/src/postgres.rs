//! A real PostgreSQL server for the tests: Debian's package, a fresh
//! cluster made by `initdb` in a temporary dir, run on a free port as the
//! `postgres` user when we are root (the server refuses to run as root),
//! killed with its parent.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Why PostgreSQL did not start.
#[derive(Debug, thiserror::Error)]
pub enum PostgresStartError {
    /// `initdb` or `postgres` is not installed.
    #[error("{0} not found: install Debian's `postgresql` package (apt-get install postgresql)")]
    NotInstalled(&'static str),
    /// `initdb` failed.
    #[error("initdb failed: {0}")]
    Init(String),
    /// The server did not accept connections in time.
    #[error("PostgreSQL did not start: {0}")]
    Start(String),
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A running PostgreSQL; killed and its dir removed when dropped.
pub struct PostgresServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

/// The user the server runs as, when we are root: uid and gid of `postgres`.
fn run_as() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let mut fields = line.split(':').skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// A binary of Debian's newest PostgreSQL, or on `PATH`.
fn binary(name: &'static str) -> Result<PathBuf, PostgresStartError> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    if let Some(found) = versions.into_iter().rev().find(|p| p.is_file()) {
        return Ok(found);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or(PostgresStartError::NotInstalled(name))
}

fn as_owner(command: &mut Command, owner: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
}

fn chown(path: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    }
    Ok(())
}

impl PostgresServer {
    /// Makes a cluster in `dir` (removed on drop) and starts it on a free
    /// port, trusting local connections as user `postgres`.
    pub async fn start(dir: impl Into<PathBuf>) -> Result<Self, PostgresStartError> {
        let dir = dir.into();
        let owner = run_as();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        chown(&dir, owner)?;
        let data = dir.join("data");
        let mut init = Command::new(binary("initdb")?);
        init.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        as_owner(&mut init, owner);
        let output = init.output()?;
        if !output.status.success() {
            return Err(PostgresStartError::Init(
                String::from_utf8_lossy(&output.stderr).into_owned(),
            ));
        }
        let port = crate::free_port()?;
        let mut started = Self {
            child: None,
            port,
            dir,
        };
        started.launch(owner).await?;
        Ok(started)
    }

    /// Starts the server on its data dir and port, and waits until it
    /// takes connections.
    async fn launch(&mut self, owner: Option<(u32, u32)>) -> Result<(), PostgresStartError> {
        let data = self.dir.join("data");
        let mut server = Command::new(binary("postgres")?);
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            // For the CDC source: logical replication slots.
            .args(["-c", "wal_level=logical"]);
        as_owner(&mut server, owner);
        let log = self.dir.join("postgres.log");
        if !log.exists() {
            std::fs::File::create(&log)?;
            chown(&log, owner)?;
        }
        self.child = Some(stream_runner::process::spawn_logged(&mut server, &log)?);
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio_postgres::connect(&self.config(), tokio_postgres::NoTls)
            .await
            .is_err()
        {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                // The log goes with the scratch dir: say its end here.
                let tail = stream_runner::process::log_tail(&log, 20);
                let why = format!("the end of {}:\n{tail}", log.display());
                return Err(PostgresStartError::Start(why));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Crashes the server (an immediate shutdown, `SIGQUIT`: no checkpoint,
    /// every connection cut, recovery from the WAL on the next start) and
    /// starts it again on the same data dir and port.
    pub async fn crash_and_restart(&mut self) -> Result<(), PostgresStartError> {
        if let Some(mut child) = self.child.take() {
            let pid = i32::try_from(child.id()).unwrap_or(0);
            // SAFETY: kill has no memory preconditions; pid is our child's.
            unsafe { libc::kill(pid, libc::SIGQUIT) };
            child.wait()?;
        }
        self.launch(run_as()).await
    }

    /// The libpq-style connection string.
    pub fn config(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until replication slot `slot` exists (a CDC source's first pull
/// makes it), for at most `within`: rows written before it are the
/// snapshot's, those after it the stream's.
pub async fn wait_for_slot(
    db: &tokio_postgres::Client,
    slot: &str,
    within: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let found = db
            .query_opt(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .map_err(|e| format!("reading the replication slots: {e}"))?;
        if found.is_some() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("no replication slot {slot} after {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
