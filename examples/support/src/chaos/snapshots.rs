//! An S3-compatible store for a cluster's partition snapshots, without
//! which a cluster never trims its log: moto's server (from PyPI, installed
//! on first use), on loopback, with one bucket.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use stream_runner::process::spawn_logged;

use super::process::free_port;

/// The bucket the nodes write their snapshots to.
const BUCKET: &str = "stream-snapshots";

/// A moto S3 server, killed when dropped.
pub(super) struct SnapshotStore {
    port: u16,
    child: Child,
}

impl SnapshotStore {
    /// Starts the store, logging into `dir`, and creates the bucket.
    pub async fn start(dir: &Path) -> Result<Self, String> {
        let binary = moto_server()?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port()?;
        let mut command = Command::new(binary);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let child = spawn_logged(&mut command, &dir.join("moto.log"))
            .map_err(|e| format!("cannot start moto_server: {e}"))?;
        let store = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match store.request("PUT", &format!("/{BUCKET}")) {
                Ok(answer) if answer.starts_with("HTTP/1.1 200") => return Ok(store),
                _ if Instant::now() > deadline => {
                    return Err(format!(
                        "moto_server did not create the bucket; see {}",
                        dir.join("moto.log").display()
                    ))
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The nodes' settings for it.
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("DESTINATION", format!("s3://{BUCKET}/cluster")),
            ("SNAPSHOT_INTERVAL_NUM_RECORDS", "1000".to_owned()),
            ("AWS_REGION", "local".to_owned()),
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (format!("RESTATE_WORKER__SNAPSHOTS__{key}"), value))
        .chain([(
            // Look for a safe trim point often, so that a run shows it.
            "RESTATE_ADMIN__LOG_TRIM_CHECK_INTERVAL".to_owned(),
            "10s".to_owned(),
        )])
        .collect()
    }

    /// How many partitions have a snapshot (a `latest.json` each).
    pub fn partitions_snapshotted(&self) -> Result<usize, String> {
        let listing = self.request("GET", &format!("/{BUCKET}?list-type=2&max-keys=1000"))?;
        Ok(listing.matches("latest.json</Key>").count())
    }

    /// One plain HTTP/1.1 request (moto takes them unsigned), answered whole.
    fn request(&self, method: &str, path: &str) -> Result<String, String> {
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .map_err(|e| e.to_string())?;
        Ok(answer)
    }
}

impl Drop for SnapshotStore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's server from PATH, installed with pip when missing.
fn moto_server() -> Result<String, String> {
    let found = || {
        Command::new("moto_server")
            .arg("--help")
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if !found() {
        eprintln!("moto_server not found: installing moto[server] from PyPI");
        let installed = Command::new("pip")
            .args(["install", "-q", "moto[server]"])
            .status()
            .map_err(|e| format!("pip: {e}"))?;
        if !found() {
            return Err(format!(
                "moto_server is missing and `pip install moto[server]` exited with {installed}"
            ));
        }
    }
    Ok("moto_server".to_owned())
}
