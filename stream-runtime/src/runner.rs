//! Running pipelines from a `main`: like Flink's local environment, it starts
//! a Restate server when none is configured, registers the endpoint, injects
//! tokens and shows progress.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::complete::IntoPipeline;
use crate::endpoint::{Endpoint, EndpointError};
use crate::names::ServiceNames;
use crate::protocol::Status;
use crate::restate::{AdminClient, IngressClient, LocalServer, LocalServerOptions};

/// Why a run stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad command-line arguments (from [`Runner::with_args`]).
    #[error("{0}")]
    Usage(String),
    /// The endpoint could not be built or bound.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The local server could not start.
    #[error("{0}\n(to use a server that is already running, set RESTATE_ADMIN_URL and RESTATE_INGRESS_URL)")]
    Server(#[from] crate::restate::ServerBinaryError),
    /// Registering the endpoint or calling the pipeline failed.
    #[error(transparent)]
    Restate(#[from] crate::restate::ApiError),
    /// A pipeline's tokens stopped because the endpoint's layout differs
    /// from the one its state was laid out by.
    #[error("{pipeline}: its tokens stopped. {reason}")]
    Halted {
        /// The pipeline.
        pipeline: String,
        /// Why, as the control object recorded it.
        reason: String,
    },
    /// The metrics exporter could not start.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// Anything else on the way.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The runner's command-line flags. Flatten them into a program's own
/// `clap::Parser` with `#[command(flatten)]`, so that one `--help` lists
/// both, and hand them to [`Runner::new`].
///
/// `RESTATE_ADMIN_URL` and `RESTATE_INGRESS_URL` name a server to use
/// instead of starting one (with only one of them set, or with
/// `--serve-only`, the runner only serves and prints the steps).
///
/// ```
/// use clap::Parser;
/// use stream_runtime::RunnerArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     /// Where the alerts go.
///     #[arg(long)]
///     out: std::path::PathBuf,
///     #[command(flatten)]
///     runner: RunnerArgs,
/// }
///
/// let cli = Cli::parse_from(["alerts", "--out", "a.txt", "--tokens", "4"]);
/// assert_eq!(cli.runner.tokens, Some(4));
/// ```
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunnerArgs {
    /// Tokens to inject on a first start [default: 10]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=crate::MAX_TOKENS_PER_CALL))]
    pub tokens: Option<u64>,
    /// Port of this endpoint [default: 9080]
    #[arg(long)]
    pub port: Option<u16>,
    /// Start the local dev server on an empty data dir
    #[arg(long)]
    pub fresh: bool,
    /// Only serve the endpoint; print how to register and start it
    #[arg(long)]
    pub serve_only: bool,
    /// Stop after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Serve Prometheus metrics on this address, such as 0.0.0.0:9464
    /// (`GET /metrics`; needs the `metrics` feature)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
}

/// A program whose only flags are the runner's.
#[derive(clap::Parser)]
struct RunnerOnly {
    #[command(flatten)]
    runner: RunnerArgs,
}

/// Settings of a run.
#[derive(Debug, Clone)]
struct Settings {
    tokens: u64,
    port: u16,
    fresh: bool,
    serve_only: bool,
    duration: Option<Duration>,
    metrics: Option<SocketAddr>,
}

impl Settings {
    fn new(args: RunnerArgs, default_tokens: u64) -> Self {
        Settings {
            tokens: args.tokens.unwrap_or(default_tokens),
            port: args.port.unwrap_or(9080),
            fresh: args.fresh,
            serve_only: args.serve_only,
            duration: args.duration.map(Duration::from_secs),
            metrics: args.metrics,
        }
    }
}

/// Runs pipelines from a program's `main`.
///
/// With `RESTATE_ADMIN_URL` unset it starts a local restate-server with its
/// data under `target/restate-dev` (kept between runs, so a second run
/// resumes where the first stopped; `--fresh` starts over), serves the
/// endpoint, registers it, injects tokens on the first start, and prints
/// progress every second until Ctrl-C, or until every pipeline is bounded and
/// finished.
///
/// ```no_run
/// # async fn main_body(word_count: impl stream_runtime::IntoPipeline) {
/// stream_runtime::Runner::from_args()
///     .pipeline(word_count)
///     .run()
///     .await
///     .unwrap_or_else(|e| panic!("{e}"));
/// # }
/// ```
pub struct Runner {
    endpoint: Endpoint,
    args: Result<RunnerArgs, String>,
    default_tokens: u64,
}

impl Runner {
    /// A runner taking its flags from the program's arguments (see
    /// [`RunnerArgs`]); `--help` prints them and exits, as does a bad flag,
    /// with an error. A program with flags of its own flattens
    /// [`RunnerArgs`] into its parser and calls [`Runner::new`].
    pub fn from_args() -> Self {
        let cli = <RunnerOnly as clap::Parser>::parse();
        Self::new(cli.runner)
    }

    /// A runner with these flags.
    pub fn new(args: RunnerArgs) -> Self {
        Self {
            endpoint: Endpoint::new(),
            args: Ok(args),
            default_tokens: 10,
        }
    }

    /// A runner with the given command-line flags (without the program
    /// name); bad flags are a [`RunError::Usage`] from [`run`](Self::run).
    pub fn with_args(args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let words = std::iter::once("runner".to_owned()).chain(args.into_iter().map(Into::into));
        let args = <RunnerOnly as clap::Parser>::try_parse_from(words)
            .map(|cli| cli.runner)
            .map_err(|e| e.to_string());
        Self {
            endpoint: Endpoint::new(),
            args,
            default_tokens: 10,
        }
    }

    /// Adds a pipeline.
    pub fn pipeline(mut self, pipeline: impl IntoPipeline) -> Self {
        self.endpoint = self.endpoint.pipeline(pipeline);
        self
    }

    /// The tokens to inject when `--tokens` is not given.
    pub fn default_tokens(mut self, tokens: u64) -> Self {
        self.default_tokens = tokens;
        self
    }

    /// Runs until `--duration`, every bounded pipeline finishing, or Ctrl-C,
    /// which stops the pipelines (each token finishes its batch and parks;
    /// a second Ctrl-C quits at once). Returns each pipeline's last status.
    pub async fn run(self) -> Result<Vec<(ServiceNames, Status)>, RunError> {
        let settings = Settings::new(self.args.map_err(RunError::Usage)?, self.default_tokens);
        let names: Vec<ServiceNames> = self.endpoint.names().cloned().collect();
        if let Some(metrics) = settings.metrics {
            crate::metrics::serve(metrics)?;
            println!("metrics on http://{metrics}/metrics");
        }
        let addr = SocketAddr::from(([0, 0, 0, 0], settings.port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| EndpointError::Bind { addr, source })?;
        let (stop_endpoint, endpoint_stopped) = tokio::sync::oneshot::channel::<()>();
        let endpoint = self.endpoint;
        let serving = tokio::spawn(endpoint.serve_on(listener, endpoint_stopped));
        let endpoint_uri = format!("http://127.0.0.1:{}", settings.port);

        let configured = (
            std::env::var("RESTATE_ADMIN_URL").ok(),
            std::env::var("RESTATE_INGRESS_URL").ok(),
        );
        let result = match configured {
            (Some(admin), Some(ingress)) if !settings.serve_only => {
                let admin = AdminClient::new(admin);
                let ingress = IngressClient::new(ingress);
                drive(&settings, &names, &endpoint_uri, &admin, &ingress).await
            }
            (admin, ingress) if settings.serve_only || admin.is_some() || ingress.is_some() => {
                print_manual_steps(&names, &endpoint_uri, admin.as_deref(), ingress.as_deref());
                wait_for_stop(settings.duration).await;
                Ok(Vec::new())
            }
            _ => {
                let base_dir = dev_data_dir();
                if settings.fresh && base_dir.exists() {
                    println!("--fresh: removing {}", base_dir.display());
                    std::fs::remove_dir_all(&base_dir)?;
                }
                println!("starting restate-server, data in {}", base_dir.display());
                let mut server = LocalServer::start(LocalServerOptions::new(&base_dir)).await?;
                let result = drive(
                    &settings,
                    &names,
                    &endpoint_uri,
                    &server.admin(),
                    &server.ingress(),
                )
                .await;
                server.stop(Duration::from_secs(10));
                result
            }
        };
        let _ = stop_endpoint.send(());
        let _ = serving.await;
        result
    }
}

/// Where the local dev server keeps its data: `$CARGO_TARGET_DIR/restate-dev`,
/// else `./target/restate-dev`.
fn dev_data_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("restate-dev")
}

async fn drive(
    settings: &Settings,
    names: &[ServiceNames],
    endpoint_uri: &str,
    admin: &AdminClient,
    ingress: &IngressClient,
) -> Result<Vec<(ServiceNames, Status)>, RunError> {
    admin.register(endpoint_uri).await?;
    println!("registered {endpoint_uri} with {}", admin.url());
    for pipeline in names {
        let status = retry_status(ingress, pipeline).await?;
        if status.tokens_injected == 0 {
            let added = ingress.add_tokens(pipeline, settings.tokens).await?;
            println!("{}: injected {} tokens", pipeline.pipeline, added.added);
        } else if status.tokens_in_flight == 0 && (status.stopped || status.halted > 0) {
            // Stopped by `stop`, or by a layout conflict (refused again if it
            // stands): new tokens resume where it stopped.
            let added = ingress.add_tokens(pipeline, settings.tokens).await?;
            println!(
                "{}: resuming a stopped pipeline with {} new tokens ({} records in so far)",
                pipeline.pipeline, added.added, status.records_in
            );
        } else {
            println!(
                "{}: resuming with {} tokens ({} records in so far)",
                pipeline.pipeline, status.tokens_injected, status.records_in
            );
        }
    }
    println!(
        "progress every second; Ctrl-C stops the pipelines cleanly (run again to resume, --fresh to start over)"
    );
    let started = Instant::now();
    let mut last: Vec<(Instant, u64)> = vec![(Instant::now(), 0); names.len()];
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut statuses = Vec::new();
    let mut stopping = false;
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                if stopping {
                    println!("quitting without waiting for the tokens to park");
                    return Ok(statuses);
                }
                println!("stopping: each token finishes its batch and parks (Ctrl-C again quits at once)");
                for pipeline in names {
                    ingress.stop(pipeline).await?;
                }
                stopping = true;
                ctrl_c.set(tokio::signal::ctrl_c());
            }
            _ = ticker.tick() => {}
        }
        statuses.clear();
        for (pipeline, (at, seen)) in names.iter().zip(last.iter_mut()) {
            let status = ingress.status(pipeline).await?;
            let elapsed = at.elapsed().as_secs_f64().max(1e-3);
            let rate = status.records_out.saturating_sub(*seen) as f64 / elapsed;
            // Records in but none out yet is progress too (windows open).
            if *seen > 0 || status.records_out > 0 || status.records_in > 0 {
                println!(
                    "{:<24} out {:>10} ({:>8.0}/s)  in {:>10}  tokens running {} (of {} injected in all runs){}{}{}",
                    pipeline.pipeline,
                    status.records_out,
                    rate,
                    status.records_in,
                    status.tokens_in_flight,
                    status.tokens_injected,
                    time_progress(&status),
                    if status.dead_letters > 0 {
                        format!("  dead letters {}", status.dead_letters)
                    } else {
                        String::new()
                    },
                    if status.finished { "  finished" } else { "" },
                );
            }
            if let (0, Some(reason)) = (status.tokens_in_flight, &status.conflict) {
                return Err(RunError::Halted {
                    pipeline: pipeline.pipeline.clone(),
                    reason: reason.clone(),
                });
            }
            *at = Instant::now();
            *seen = status.records_out;
            crate::metrics::tokens(&pipeline.pipeline, &status);
            statuses.push((pipeline.clone(), status));
        }
        if ticks.is_multiple_of(STALL_CHECK_TICKS) {
            for pipeline in names {
                resume_stalled(admin, pipeline).await;
            }
        }
        ticks += 1;
        let all_finished = statuses.iter().all(|(_, s)| s.finished);
        if all_finished && stopping {
            println!("stopped: every token parked; run again to resume");
        }
        let timed_out = settings.duration.is_some_and(|d| started.elapsed() >= d);
        if all_finished || timed_out {
            return Ok(statuses);
        }
    }
}

/// How often (in progress ticks of a second) the runner looks for paused
/// and retrying invocations.
const STALL_CHECK_TICKS: u64 = 5;

/// Says what of the pipeline the server is retrying or has paused, and
/// resumes the paused: this process serves the pipeline, so the endpoint
/// they were waiting for is back. (An outage longer than the server's
/// retry policy pauses every token; see [`Stalled`](crate::restate::Stalled).)
async fn resume_stalled(admin: &AdminClient, pipeline: &ServiceNames) {
    let stalled = admin.resume_paused(pipeline).await;
    if let Ok(stalled) = &stalled {
        crate::metrics::stalled(&pipeline.pipeline, stalled);
    }
    match stalled {
        Ok(stalled) if !stalled.is_empty() => {
            let resumed = if stalled.paused.is_empty() {
                ""
            } else {
                "; resumed the paused ones"
            };
            println!("{}: {}{resumed}", pipeline.pipeline, stalled.describe());
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot look for paused invocations"),
    }
}

/// The watermark, windows still to fire and late records, for a pipeline
/// with event time.
fn time_progress(status: &Status) -> String {
    let Some(watermark) = status.watermark else {
        return String::new();
    };
    let mut line = match watermark {
        i64::MAX => "  watermark at the end".to_owned(),
        w => format!("  watermark {:.1}s", w as f64 / 1000.0),
    };
    if status.pending_timers > 0 {
        line += &format!("  windows open {}", status.pending_timers);
    }
    if status.late_records > 0 {
        line += &format!("  late {}", status.late_records);
    }
    line
}

/// The first ingress call after registering can need a few retries.
async fn retry_status(
    ingress: &IngressClient,
    pipeline: &ServiceNames,
) -> Result<Status, RunError> {
    let mut attempt = 0;
    loop {
        match ingress.status(pipeline).await {
            Ok(status) => return Ok(status),
            Err(e) if attempt < 50 => {
                tracing::debug!("status not ready yet: {e}");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn print_manual_steps(
    names: &[ServiceNames],
    endpoint_uri: &str,
    admin: Option<&str>,
    ingress: Option<&str>,
) {
    let admin = admin.unwrap_or("http://localhost:9070");
    let ingress = ingress.unwrap_or("http://localhost:8080");
    println!("serving {endpoint_uri}. To run:");
    println!("  restate deployments register {endpoint_uri} --yes   # or: curl -X POST {admin}/deployments -H 'content-type: application/json' -d '{{\"uri\":\"{endpoint_uri}\"}}'");
    for pipeline in names {
        println!(
            "  curl -X POST {ingress}/{}/addTokens -H 'content-type: application/json' -d '10'",
            pipeline.source
        );
        println!("  curl -X POST {ingress}/{}/status", pipeline.source);
        println!(
            "  curl -X POST {ingress}/{}/stop     # drains; addTokens resumes",
            pipeline.source
        );
    }
}

async fn wait_for_stop(duration: Option<Duration>) {
    match duration {
        Some(duration) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = tokio::time::sleep(duration) => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
