//! The processes a run starts, kills and restarts, and its kill schedule.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::keys::mix;
use stream_runner::process::spawn_logged;
use stream_runtime::restate::IngressClient;
use stream_runtime::{ServiceNames, Status};

/// Finds a binary of the same build as the running example
/// (`target/<profile>/`, one up from `target/<profile>/examples/`).
pub fn sibling_binary(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dirs = exe.ancestors().skip(1).take(2);
    let candidates: Vec<PathBuf> = dirs.map(|dir| dir.join(name)).collect();
    candidates
        .iter()
        .find(|candidate| candidate.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "{name} not found next to {}; build it first: cargo build --release --features connectors --bin {name}",
                exe.display()
            )
        })
}

/// The endpoint child process, restartable on the same port.
pub(super) struct EndpointProcess {
    pub binary: PathBuf,
    pub args: Vec<String>,
    pub port: u16,
    pub log: PathBuf,
    pub child: Option<Child>,
}

impl EndpointProcess {
    pub async fn start(&mut self) -> Result<(), String> {
        let mut command = Command::new(&self.binary);
        command.args(&self.args);
        self.child = Some(
            spawn_logged(&mut command, &self.log)
                .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(format!(
                    "the endpoint did not listen on {}; see {}",
                    self.port,
                    self.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for EndpointProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small deterministic generator for the kill schedule.
pub(super) struct Schedule(pub u64);

impl Schedule {
    pub fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low).max(1))
    }
}

pub(super) fn free_port() -> Result<u16, String> {
    crate::free_port().map_err(|e| e.to_string())
}

/// The pipeline's status, retried while a server or endpoint restarts.
pub(super) async fn status(
    ingress: &IngressClient,
    names: &ServiceNames,
    patience: Duration,
) -> Result<Status, String> {
    let deadline = Instant::now() + patience;
    loop {
        match ingress.status(names).await {
            Ok(status) => return Ok(status),
            Err(e) if Instant::now() > deadline => return Err(format!("status: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
