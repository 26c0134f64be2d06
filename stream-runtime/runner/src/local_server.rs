//! Starting and stopping a restate-server process, for development, tests
//! and benchmarks.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use stream_runtime::restate::{AdminClient, IngressClient};

use crate::binaries::{find_server_binary, ServerBinaryError};
use crate::process::{log_tail, spawn_logged};

/// Where and how to run a local restate-server.
#[derive(Debug, Clone)]
pub struct LocalServerOptions {
    /// The server's data directory (`--base-dir`). Kept between runs, so a
    /// restarted server resumes every invocation it had.
    pub base_dir: PathBuf,
    /// Ingress port (Restate's default is 8080).
    pub ingress_port: u16,
    /// Admin API port (Restate's default is 9070).
    pub admin_port: u16,
    /// Node-to-node port (Restate's default is 5122).
    pub node_port: u16,
    /// Partitions for a new data dir. On small machines fewer partitions are
    /// markedly faster; the setting only applies when the data dir is empty.
    pub partitions: Option<u32>,
    /// More `RESTATE_*` settings; one named like a default replaces it.
    pub env: Vec<(String, String)>,
    /// The server binary; found with [`find_server_binary`] when `None`.
    pub binary: Option<PathBuf>,
}

impl LocalServerOptions {
    /// Restate's default ports, data under `base_dir`, and settings that
    /// suit a small development machine (see the guide, docs/src/operating.md).
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        Self {
            base_dir: base_dir.into(),
            ingress_port: 8080,
            admin_port: 9070,
            node_port: 5122,
            partitions: Some(2),
            env: Vec::new(),
            binary: None,
        }
    }

    /// Uses the given ports.
    pub fn ports(mut self, ingress: u16, admin: u16, node: u16) -> Self {
        self.ingress_port = ingress;
        self.admin_port = admin;
        self.node_port = node;
        self
    }

    /// Fails when another process listens on one of the server's ports:
    /// a health check would then pass against that process.
    pub fn ports_free(&self) -> Result<(), ServerBinaryError> {
        let ports = [
            (self.ingress_port, "ingress"),
            (self.admin_port, "admin API"),
            (self.node_port, "node-to-node port"),
        ];
        for (port, what) in ports {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(ServerBinaryError::PortTaken { port, what });
            }
        }
        Ok(())
    }

    /// The settings passed to the server as environment variables.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            (
                "RESTATE_INGRESS__BIND_ADDRESS",
                format!("127.0.0.1:{}", self.ingress_port),
            ),
            (
                "RESTATE_ADMIN__BIND_ADDRESS",
                format!("127.0.0.1:{}", self.admin_port),
            ),
            (
                "RESTATE_BIND_ADDRESS",
                format!("127.0.0.1:{}", self.node_port),
            ),
            (
                "RESTATE_ADVERTISED_ADDRESS",
                format!("http://127.0.0.1:{}", self.node_port),
            ),
            // Keep the data dir from growing without bound (see the guide, docs/src/operating.md).
            ("RESTATE_WORKER__TRIM_DELAY_INTERVAL", "0s".to_owned()),
            (
                "RESTATE_WORKER__STORAGE__ROCKSDB_MEMORY_BUDGET",
                "48MiB".to_owned(),
            ),
            ("RESTATE_DEFAULT_JOURNAL_RETENTION", "0s".to_owned()),
            ("RESTATE_LOG_FILTER", "warn".to_owned()),
            // One line per event, without colours: a log a program can read
            // (the runner quotes its last problem when the server stalls).
            ("RESTATE_LOG_FORMAT", "compact".to_owned()),
            ("RESTATE_LOG_DISABLE_ANSI_CODES", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(partitions) = self.partitions {
            env.push((
                "RESTATE_DEFAULT_NUM_PARTITIONS".to_owned(),
                partitions.to_string(),
            ));
        }
        // A setting given in `env` replaces the default of the same name.
        for (key, value) in &self.env {
            match env.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1.clone_from(value),
                None => env.push((key.clone(), value.clone())),
            }
        }
        env
    }
}

/// A restate-server child process. Killed when dropped.
///
/// What the runner starts when no server is given, and what tests and
/// benchmarks start on ports of their own:
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use stream_runner::{LocalServer, LocalServerOptions};
///
/// let options = LocalServerOptions::new("/tmp/restate-test").ports(18080, 19070, 15122);
/// let mut server = LocalServer::start(options).await?;
/// let deployment = server.admin().register("http://127.0.0.1:9080").await?;
/// println!("{deployment} registered; ingress at {}", server.ingress_url());
/// server.stop(Duration::from_secs(10));
/// # Ok(())
/// # }
/// ```
pub struct LocalServer {
    child: Option<Child>,
    options: LocalServerOptions,
    binary: PathBuf,
}

impl LocalServer {
    /// Starts the server and waits until its admin API and ingress answer.
    pub async fn start(options: LocalServerOptions) -> Result<Self, ServerBinaryError> {
        let binary = match &options.binary {
            Some(binary) => binary.clone(),
            None => find_server_binary()?,
        };
        let mut server = Self {
            child: None,
            options,
            binary,
        };
        server.restart().await?;
        Ok(server)
    }

    /// Starts the server process again on the same data dir and ports
    /// (after [`kill`](Self::kill) or [`stop`](Self::stop)).
    pub async fn restart(&mut self) -> Result<(), ServerBinaryError> {
        self.kill();
        std::fs::create_dir_all(&self.options.base_dir).map_err(|e| {
            ServerBinaryError::Start(format!(
                "cannot create {}: {e}",
                self.options.base_dir.display()
            ))
        })?;
        self.options.ports_free()?;
        let mut command = Command::new(&self.binary);
        command
            .arg("--base-dir")
            .arg(&self.options.base_dir)
            .envs(self.options.environment());
        // Its own process group: a Ctrl-C in the terminal then reaches only
        // the program that owns the server, which stops the pipelines and
        // then the server, in that order.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let log = self.options.base_dir.join("server.log");
        let child = spawn_logged(&mut command, &log).map_err(|e| {
            ServerBinaryError::Start(format!("cannot run {}: {e}", self.binary.display()))
        })?;
        self.child = Some(child);
        self.wait_healthy(Duration::from_secs(90)).await
    }

    async fn wait_healthy(&mut self, limit: Duration) -> Result<(), ServerBinaryError> {
        let deadline = Instant::now() + limit;
        let admin = self.admin();
        let ingress = self.ingress();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(exit)) = child.try_wait() {
                    return Err(ServerBinaryError::Start(format!(
                        "it exited with {exit}. The end of its log, {}:\n{}",
                        self.log_path().display(),
                        log_tail(&self.log_path(), 15)
                    )));
                }
            }
            if admin.is_healthy().await && ingress.is_healthy().await {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ServerBinaryError::Start(format!(
                    "not healthy after {limit:?}. The end of its log, {}:\n{}",
                    self.log_path().display(),
                    log_tail(&self.log_path(), 15)
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The admin API.
    pub fn admin(&self) -> AdminClient {
        AdminClient::new(self.admin_url())
    }

    /// The ingress.
    pub fn ingress(&self) -> IngressClient {
        IngressClient::new(self.ingress_url())
    }

    /// The admin API's URL.
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.options.admin_port)
    }

    /// The ingress URL.
    pub fn ingress_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.options.ingress_port)
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.options.base_dir.join("server.log")
    }

    /// The options it runs with.
    pub fn options(&self) -> &LocalServerOptions {
        &self.options
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the process to stop (SIGTERM) and waits up to `grace` before
    /// killing it.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(child) = self.child.as_mut() {
            terminate(child);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    self.child = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.kill();
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(unix)]
fn terminate(child: &Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: sending a signal to a child we own has no memory effects.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

#[cfg(not(unix))]
fn terminate(_child: &Child) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_in_env_replaces_the_default() {
        let mut options = LocalServerOptions::new("/tmp/unused");
        options.env = vec![
            (
                "RESTATE_WORKER__STORAGE__ROCKSDB_MEMORY_BUDGET".to_owned(),
                "1GiB".to_owned(),
            ),
            ("RESTATE_EXTRA".to_owned(), "x".to_owned()),
        ];
        let env = options.environment();
        let values = |key: &str| -> Vec<&str> {
            env.iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(
            values("RESTATE_WORKER__STORAGE__ROCKSDB_MEMORY_BUDGET"),
            ["1GiB"]
        );
        assert_eq!(values("RESTATE_EXTRA"), ["x"]);
        assert_eq!(values("RESTATE_DEFAULT_NUM_PARTITIONS"), ["2"]);
    }
}
