//! nginx as the HTTP/2 cleartext load balancer in front of endpoint
//! replicas: restate-server talks HTTP/2 to one address, and nginx spreads
//! the calls over the replicas (`grpc_pass` proxies any HTTP/2 request).
//! nginx comes from Debian's packages, installed on first use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use stream_runner::process::spawn_logged;

use super::process::free_port;

/// An nginx process, killed when dropped.
pub(super) struct Balancer {
    pub port: u16,
    child: Child,
}

impl Balancer {
    /// Starts nginx in `dir` on a free port, in front of the endpoints on
    /// `upstreams`, and waits until it listens.
    pub async fn start(dir: &Path, upstreams: &[u16]) -> Result<Self, String> {
        let nginx = nginx_binary()?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port()?;
        let config = dir.join("nginx.conf");
        std::fs::write(&config, config_text(dir, port, upstreams))
            .map_err(|e| format!("{}: {e}", config.display()))?;
        let mut command = Command::new(nginx);
        command.arg("-c").arg(&config).arg("-p").arg(dir);
        let child = spawn_logged(&mut command, &dir.join("nginx.out"))
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        let balancer = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(format!(
                    "nginx did not listen on {port}; see {}",
                    dir.join("error.log").display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(balancer)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration: HTTP/2 cleartext in and out, long-lived connections
/// and streams (an invocation is one stream for as long as it runs), no
/// buffering and no body limit.
fn config_text(dir: &Path, port: u16, upstreams: &[u16]) -> String {
    let dir = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|port| format!("        server 127.0.0.1:{port};\n"))
        .collect();
    format!(
        "daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream endpoints {{
{servers}        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} http2;
        http2_max_concurrent_streams 4096;
        keepalive_requests 1000000;
        keepalive_timeout 3600s;
        client_max_body_size 0;
        location / {{
            grpc_pass grpc://endpoints;
            grpc_read_timeout 3600s;
            grpc_send_timeout 3600s;
            grpc_buffer_size 64k;
            grpc_next_upstream error timeout;
        }}
    }}
}}
"
    )
}

/// nginx from /usr/sbin or /usr/bin. It is a system package, so it is not
/// installed behind the user's back: its absence is one line saying how.
fn nginx_binary() -> Result<PathBuf, String> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or_else(|| {
            "nginx not found: the cluster run balances its endpoint replicas with it; \
             install Debian's package (apt-get install nginx)"
                .to_owned()
        })
}
