//! One real restate-server and one endpoint for the whole test binary.
//!
//! The server runs on free ports with a fresh data dir under the system temp
//! dir; the endpoint serves every test pipeline in-process. Both live on a
//! dedicated thread for the life of the binary; at exit the server is killed
//! and its data dir removed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use stream_runner::{LocalServer, LocalServerOptions};
use stream_runtime::restate::{AdminClient, IngressClient};
use stream_runtime::{Endpoint, ServiceNames, Status};

pub struct Harness {
    admin_url: String,
    ingress_url: String,
    /// Where this process serves its Prometheus metrics.
    pub metrics: std::net::SocketAddr,
}

static HARNESS: OnceLock<Harness> = OnceLock::new();
static SERVER_PID: AtomicU32 = AtomicU32::new(0);
static BASE_DIR: OnceLock<PathBuf> = OnceLock::new();

/// The shared server and endpoint, started on first use.
pub fn harness() -> &'static Harness {
    HARNESS.get_or_init(|| on_own_thread("restate-harness", |_| start()))
}

async fn start() -> Result<(Harness, LocalServer), String> {
    let base_dir =
        std::env::temp_dir().join(format!("stream-runtime-tests-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base_dir);
    let _ = BASE_DIR.set(base_dir.clone());
    // SAFETY: registering a plain extern "C" function with atexit.
    unsafe {
        libc::atexit(cleanup_at_exit);
    }
    let options = LocalServerOptions::new(&base_dir).ports(free_port(), free_port(), free_port());
    let server = LocalServer::start(options)
        .await
        .map_err(|e| e.to_string())?;
    SERVER_PID.store(server.pid().unwrap_or(0), Ordering::SeqCst);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind the endpoint: {e}"))?;
    let endpoint_port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let endpoint = crate::pipelines::all(Endpoint::new());
    tokio::spawn(endpoint.serve_on(listener, std::future::pending::<()>()));

    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    stream_runtime::metrics::serve(metrics).map_err(|e| e.to_string())?;

    let admin = server.admin();
    admin
        .register(&format!("http://127.0.0.1:{endpoint_port}"))
        .await
        .map_err(|e| e.to_string())?;
    let harness = Harness {
        admin_url: server.admin_url(),
        ingress_url: server.ingress_url(),
        metrics,
    };
    Ok((harness, server))
}

extern "C" fn cleanup_at_exit() {
    for pid in [&SERVER_PID, &BROKER_PID, &POSTGRES_PID] {
        let pid = pid.load(Ordering::SeqCst);
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            if pid > 0 {
                // SAFETY: signalling and reaping our own child process.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
        }
    }
    if let Some(dir) = BASE_DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// One real Kafka broker for the tests that need one, started on first use
/// on a dedicated thread (so that it lives as long as the binary), with a
/// runtime on which those tests serve their own endpoints.
pub struct KafkaHarness {
    /// The broker's `host:port`.
    pub bootstrap: String,
    runtime: tokio::runtime::Handle,
}

static KAFKA: OnceLock<KafkaHarness> = OnceLock::new();
static BROKER_PID: AtomicU32 = AtomicU32::new(0);
static POSTGRES: OnceLock<String> = OnceLock::new();
static POSTGRES_PID: AtomicU32 = AtomicU32::new(0);

/// The shared Kafka broker (and the Restate harness, started first).
pub fn kafka() -> &'static KafkaHarness {
    harness();
    KAFKA.get_or_init(|| {
        on_own_thread("kafka-harness", |runtime| async move {
            let dir = scratch("kafka");
            let broker = stream_support::kafka::KafkaBroker::start(dir, 0)
                .await
                .map_err(|e| e.to_string())?;
            BROKER_PID.store(broker.pid().unwrap_or(0), Ordering::SeqCst);
            let kafka = KafkaHarness {
                bootstrap: broker.bootstrap(),
                runtime,
            };
            Ok((kafka, broker))
        })
    })
}

/// A client of the shared PostgreSQL server, its connection driven on the
/// caller's runtime.
pub async fn postgres_client() -> tokio_postgres::Client {
    let (db, connection) = tokio_postgres::connect(postgres(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::spawn(connection);
    db
}

/// The shared PostgreSQL server's connection string.
pub fn postgres() -> &'static str {
    harness();
    POSTGRES.get_or_init(|| {
        on_own_thread("postgres-harness", |_| async move {
            let server = stream_support::postgres::PostgresServer::start(scratch("postgres"))
                .await
                .map_err(|e| e.to_string())?;
            POSTGRES_PID.store(server.pid().unwrap_or(0), Ordering::SeqCst);
            Ok((server.config(), server))
        })
    })
}

/// A dir under the harness's, removed at exit.
pub fn scratch(name: &str) -> PathBuf {
    BASE_DIR
        .get()
        .cloned()
        .unwrap_or_else(std::env::temp_dir)
        .join(name)
}

/// Runs `start` on a thread of its own with its own runtime, and keeps what
/// it keeps (`G`, say a server) alive until the binary exits; answers what
/// it gives (`T`).
fn on_own_thread<T, G, F, Fut>(name: &str, start: F) -> T
where
    T: Send + 'static,
    G: 'static,
    F: FnOnce(tokio::runtime::Handle) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(T, G), String>>,
{
    let (ready, started) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready.send(Err(format!("tokio runtime: {e}")));
                    return;
                }
            };
            let handle = runtime.handle().clone();
            runtime.block_on(async move {
                match start(handle).await {
                    Ok((given, kept)) => {
                        let _ = ready.send(Ok(given));
                        std::future::pending::<()>().await;
                        drop(kept);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            });
        });
    if let Err(e) = thread {
        panic!("spawn {name}: {e}");
    }
    match started.recv() {
        Ok(Ok(given)) => given,
        Ok(Err(e)) => panic!("{name} did not start: {e}"),
        Err(_) => panic!("{name} died while starting"),
    }
}

impl KafkaHarness {
    /// Serves `endpoint` on a free port, on the harness's runtime, and
    /// registers it with the test server.
    pub async fn serve(&self, endpoint: Endpoint) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an endpoint");
        let port = listener.local_addr().expect("its address").port();
        listener.set_nonblocking(true).expect("non-blocking");
        self.runtime.spawn(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    endpoint
                        .serve_on(listener, std::future::pending::<()>())
                        .await
                }
                Err(e) => panic!("the endpoint's listener: {e}"),
            }
        });
        harness()
            .admin()
            .register(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("register the Kafka endpoint: {e}"));
    }
}

fn free_port() -> u16 {
    stream_support::free_port().expect("a free port on loopback")
}

/// An endpoint served from the test's own runtime (so until the test ends,
/// or `stop`) and registered as a deployment of its own.
pub struct Served {
    /// The deployment's id.
    pub deployment: String,
    /// The port it serves on.
    pub port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Served {
    /// Stops serving: calls to it fail from now on.
    pub fn stop(self) {
        let _ = self.stop.send(());
    }
}

/// Serves `endpoint` on `listener` until the answer is sent.
/// Binds `port` once the endpoint that served there let go of it (its
/// server ends after the calls it had in flight), or panics after 10 s.
pub async fn bind_again(port: u16) -> tokio::net::TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(e) if Instant::now() < deadline => {
                eprintln!("port {port} not free yet: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("bind port {port} again: {e}"),
        }
    }
}

/// Polls a pipeline's `status` until it wrote at least `out` records, or
/// panics after `limit`.
pub async fn until_out(ingress: &IngressClient, names: &ServiceNames, out: u64, limit: Duration) {
    let started = Instant::now();
    while ingress.status(names).await.expect("status").records_out < out {
        assert!(started.elapsed() < limit, "no progress");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls a pipeline's `status` until it finished, or panics after `limit`.
pub async fn until_finished(
    ingress: &IngressClient,
    names: &ServiceNames,
    limit: Duration,
) -> Status {
    let started = Instant::now();
    loop {
        let status = ingress.status(names).await.expect("status");
        if status.finished {
            return status;
        }
        assert!(started.elapsed() < limit, "not finished: {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Serves `endpoint` on `listener` until the answer is sent.
pub fn serve_on(
    listener: tokio::net::TcpListener,
    endpoint: Endpoint,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Served until `stop`: dropping the handle leaves it serving.
    tokio::spawn(endpoint.serve_on(listener, async move {
        if stopped.await.is_err() {
            std::future::pending::<()>().await;
        }
    }));
    stop
}

impl Harness {
    /// Serves `endpoint` on a free port of the calling test's runtime and
    /// registers it: the services it serves move to it.
    pub async fn serve_here(&self, endpoint: Endpoint) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an endpoint");
        let port = listener.local_addr().expect("local address").port();
        let stop = serve_on(listener, endpoint);
        let deployment = self
            .admin()
            .register(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("register the endpoint");
        Served {
            deployment,
            port,
            stop,
        }
    }

    /// Serves `endpoint` again where `stopped` served, as a restarted
    /// process would: the same deployment, so the invocations it had in
    /// flight (which Restate keeps on their deployment) go on with it.
    pub async fn serve_again(&self, stopped: &str, port: u16, endpoint: Endpoint) -> Served {
        let listener = bind_again(port).await;
        Served {
            deployment: stopped.to_owned(),
            port,
            stop: serve_on(listener, endpoint),
        }
    }

    /// A fresh ingress client (clients are bound to the runtime that uses them).
    pub fn ingress(&self) -> IngressClient {
        IngressClient::new(&self.ingress_url)
    }

    pub fn admin(&self) -> AdminClient {
        AdminClient::new(&self.admin_url)
    }

    /// The pipeline's status; the first calls after registering may need retries.
    pub async fn status(&self, names: &ServiceNames) -> Status {
        let ingress = self.ingress();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match ingress.status(names).await {
                Ok(status) => return status,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("status not ready: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("status of {}: {e}", names.pipeline),
            }
        }
    }

    pub async fn add_tokens(&self, names: &ServiceNames, n: u64) {
        self.status(names).await; // waits until the ingress routes to the pipeline
        let added = self
            .ingress()
            .add_tokens(names, n)
            .await
            .unwrap_or_else(|e| panic!("addTokens on {}: {e}", names.pipeline));
        assert_eq!(added.added, n);
    }

    /// Runs an endless pipeline with `tokens` until it has written
    /// `records`, then stops it (its tokens finish their batches and park);
    /// answers the status that `stop` gives.
    pub async fn run_until_written(
        &self,
        names: &ServiceNames,
        tokens: u64,
        records: u64,
    ) -> Status {
        self.add_tokens(names, tokens).await;
        let limit = Duration::from_secs(180);
        self.wait_for(names, limit, |_| {}, |s| s.records_out >= records)
            .await;
        self.ingress()
            .stop(names)
            .await
            .unwrap_or_else(|e| panic!("stop {}: {e}", names.pipeline))
    }

    /// Starts `tokens` tokens on a bounded pipeline and waits until it has
    /// finished (3 minutes at most): the status at its end.
    pub async fn finish(&self, names: &ServiceNames, tokens: u64) -> Status {
        self.add_tokens(names, tokens).await;
        let limit = Duration::from_secs(180);
        self.wait_for(names, limit, |_| {}, |s| s.finished).await
    }

    /// Polls the status until `done` holds, checking `invariant` on every
    /// status seen on the way. Panics after `limit`.
    pub async fn wait_for(
        &self,
        names: &ServiceNames,
        limit: Duration,
        mut invariant: impl FnMut(&Status),
        done: impl Fn(&Status) -> bool,
    ) -> Status {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.status(names).await;
            invariant(&status);
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not done after {limit:?}; last status {status:?}",
                names.pipeline
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn sql<Row: DeserializeOwned>(&self, query: &str) -> Vec<Row> {
        self.admin()
            .query(query)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// The values of a pipeline's control object under keys starting with
    /// `prefix` (`dead:` the dead letters, `late:` the late records), as
    /// JSON, in the server's order.
    pub async fn control_entries(
        &self,
        names: &ServiceNames,
        prefix: &str,
    ) -> Vec<serde_json::Value> {
        #[derive(serde::Deserialize)]
        struct Row {
            key: String,
            value_utf8: String,
        }
        let rows: Vec<Row> = self
            .sql(&format!(
                "SELECT key, value_utf8 FROM state WHERE service_name = '{}' AND key LIKE '{prefix}%'",
                names.control
            ))
            .await;
        rows.into_iter()
            .map(|row| {
                serde_json::from_str(&row.value_utf8).unwrap_or_else(|e| panic!("{}: {e}", row.key))
            })
            .collect()
    }

    /// A pipeline's dead letters, as stored.
    pub async fn dead_letters(&self, names: &ServiceNames) -> Vec<stream_runtime::DeadLetter> {
        self.control_entries(names, "dead:")
            .await
            .into_iter()
            .map(|value| serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    /// Every key's state in a pipeline's keyed service, straight from the
    /// server's state table: encoded key to stored JSON.
    pub async fn keyed_state(
        &self,
        names: &ServiceNames,
    ) -> std::collections::BTreeMap<String, serde_json::Value> {
        let rows = stream_support::state::keyed_state(&self.admin(), names)
            .await
            .unwrap_or_else(|e| panic!("state of {}: {e}", names.pipeline));
        rows.into_iter()
            .map(|(key, value)| {
                let value = serde_json::from_str(&value)
                    .unwrap_or_else(|e| panic!("state of {key} is not JSON: {e}"));
                (key, value)
            })
            .collect()
    }

    /// How many `ingest` invocations of a pipeline the server has not
    /// completed: the tokens that really circulate.
    pub async fn live_ingests(&self, names: &ServiceNames) -> u64 {
        #[derive(Deserialize)]
        struct Row {
            n: u64,
        }
        let rows: Vec<Row> = self
            .sql(&format!(
                "SELECT count(*) AS n FROM sys_invocation WHERE target_service_name = '{}' \
                 AND target_handler_name = 'ingest' AND status != 'completed'",
                names.source
            ))
            .await;
        rows.first().map_or(0, |r| r.n)
    }

    /// Asserts that no invocation of the pipeline is retrying after a
    /// failure or paused: nothing is stuck.
    pub async fn assert_nothing_stuck(&self, names: &ServiceNames) {
        let stuck: Vec<serde_json::Value> = self
            .sql(&format!(
                "SELECT id, target, status, retry_count, last_failure FROM sys_invocation \
                 WHERE target_service_name LIKE '{}%' \
                 AND (status IN ('backing-off', 'paused') OR last_failure IS NOT NULL)",
                names.pipeline
            ))
            .await;
        assert!(
            stuck.is_empty(),
            "{}: stuck invocations: {stuck:#?}",
            names.pipeline
        );
    }
}
