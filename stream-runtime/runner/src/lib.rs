//! The development runner of [`stream_runtime`]: runs pipelines from a
//! `main`. Like Flink's local environment, it starts a Restate server when
//! none is configured (installing the pinned npm package if need be),
//! registers the endpoint, injects tokens and shows progress.
//!
//! ```no_run
//! use stream_runtime::{pipeline, ConsoleSink, RandomWords};
//!
//! pipeline! {
//!     Words:
//!     source(RandomWords::new().take(1_000))
//!     |> map(|word| (word, 1u64))
//!     |> key_by(|pair| pair.0.clone())
//!     |> reduce(|a, b| (a.0, a.1 + b.1))
//!     |> sink(ConsoleSink::new())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), stream_runner::RunError> {
//!     stream_runner::Runner::from_args().pipeline(Words).run().await?;
//!     Ok(())
//! }
//! ```
//!
//! A service that only serves pipelines needs none of this: it serves a
//! [`stream_runtime::Endpoint`], and something else registers it and
//! injects tokens (see the guide's "Running and operating it").
//!
//! [`LocalServer`] and the [`process`] helpers are what the runner starts
//! its server with; test harnesses and benchmarks use them to start
//! servers and endpoints of their own.

#![warn(missing_docs)]

mod args;
mod binaries;
mod local_server;
mod page;
pub mod process;
mod progress;
mod stall;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use args::{PageAt, RunnerOnly, Settings};
pub use args::{Replay, RunnerArgs};
pub use binaries::{find_cli_binary, find_server_binary, ServerBinaryError, RESTATE_VERSION};
pub use local_server::{LocalServer, LocalServerOptions};
use progress::Progress;

use stream_runtime::restate::{AdminClient, ApiError, IngressClient};
use stream_runtime::{Endpoint, EndpointError, Graph, IntoPipeline, ServiceNames, Status};

/// Why a run stopped with an error. Its `Debug` is its message, so that a
/// `main` returning `Result<_, RunError>` (or `anyhow::Error`) prints what
/// to do, not a variant name.
///
/// ```no_run
/// # async fn example(word_count: impl stream_runtime::IntoPipeline) -> std::process::ExitCode {
/// use stream_runner::{RunError, Runner};
///
/// match Runner::from_args().pipeline(word_count).run().await {
///     Ok(_) => std::process::ExitCode::SUCCESS,
///     // An empty output is never a success: the message says what the
///     // pipeline's status shows instead (records in, dead letters, open
///     // windows).
///     Err(error @ RunError::WroteNothing { .. }) => {
///         eprintln!("{error}");
///         std::process::ExitCode::from(2)
///     }
///     Err(error) => {
///         eprintln!("error: {error}");
///         std::process::ExitCode::FAILURE
///     }
/// }
/// # }
/// ```
#[derive(thiserror::Error)]
pub enum RunError {
    /// Bad command-line arguments (from [`Runner::with_args`]).
    #[error("{0}")]
    Usage(String),
    /// The endpoint could not be built or bound.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The local server could not start.
    #[error("{0}")]
    Server(#[from] ServerBinaryError),
    /// Registering the endpoint or calling the pipeline failed.
    #[error(transparent)]
    Restate(#[from] ApiError),
    /// A pipeline's tokens stopped: the endpoint's layout differs from the
    /// one its state was laid out by, or its source is not the one its
    /// positions came from.
    #[error("{pipeline}: its tokens stopped. {reason}")]
    Halted {
        /// The pipeline.
        pipeline: String,
        /// Why, as the control object recorded it.
        reason: String,
    },
    /// The run ended with a pipeline that has written nothing at all.
    #[error("{pipeline} wrote nothing: {why}")]
    WroteNothing {
        /// The pipeline.
        pipeline: String,
        /// What its status says instead.
        why: String,
    },
    /// The metrics exporter could not start.
    #[error(transparent)]
    Metrics(#[from] stream_runtime::metrics::MetricsError),
    /// Anything else on the way.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl std::fmt::Debug for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Runs pipelines from a program's `main`.
///
/// Without `--admin-url` (`RESTATE_ADMIN_URL`) it starts a local
/// restate-server with its data under `target/restate-dev/<program>`, each
/// program's its own (kept between runs, so a second run resumes where the
/// first stopped; `--fresh` starts over). It refuses to start when the
/// server's ports are taken by another process, rather than register with a
/// server it did not start. It serves the endpoint, registers it, injects
/// tokens on the first start, and prints progress every second until
/// Ctrl-C, or until every pipeline is bounded and finished. A pipeline
/// stopped from outside (the page's Stop, or `stop`) is paused, not
/// finished: the run serves on, so that it can be resumed. A run that ends
/// with a pipeline that has written nothing is an error
/// ([`RunError::WroteNothing`]).
///
/// ```no_run
/// # async fn main_body(word_count: impl stream_runtime::IntoPipeline) {
/// stream_runner::Runner::from_args()
///     .pipeline(word_count)
///     .run()
///     .await
///     .unwrap_or_else(|e| panic!("{e}"));
/// # }
/// ```
pub struct Runner {
    endpoint: Endpoint,
    args: Result<RunnerArgs, clap::Error>,
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
        let args = <RunnerOnly as clap::Parser>::try_parse_from(words).map(|cli| cli.runner);
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
        let args = self.args.map_err(|e| RunError::Usage(e.to_string()))?;
        let settings = Settings::new(args, self.default_tokens);
        let names: Vec<ServiceNames> = self.endpoint.names().cloned().collect();
        if let Some(metrics) = settings.metrics {
            stream_runtime::metrics::serve(metrics)?;
            println!("metrics on http://{metrics}/metrics");
        }
        // The page needs a server it drives: none when only serving.
        let drives =
            !settings.serve_only && settings.admin_url.is_some() == settings.ingress_url.is_some();
        let page = match drives {
            true => bind_page(settings.page).await?,
            false => None,
        };
        let graphs: Vec<(ServiceNames, Graph)> = (self.endpoint.pipelines())
            .map(|(names, graph)| (names.clone(), graph.clone()))
            .collect();
        let mut page = page.map(|listener| (listener, graphs));
        let addr = SocketAddr::from(([0, 0, 0, 0], settings.port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| EndpointError::Bind { addr, source })?;
        let (stop_endpoint, endpoint_stopped) = tokio::sync::oneshot::channel::<()>();
        let endpoint = self.endpoint;
        let serving = tokio::spawn(endpoint.serve_on(listener, endpoint_stopped));
        let endpoint_uri = format!("http://127.0.0.1:{}", settings.port);

        let configured = (settings.admin_url.clone(), settings.ingress_url.clone());
        let result = match configured {
            (Some(admin), Some(ingress)) if !settings.serve_only => {
                let server = Server {
                    admin: AdminClient::new(admin),
                    ingress: IngressClient::new(ingress),
                    log: None,
                };
                drive(&settings, &names, &endpoint_uri, &server, page.take()).await
            }
            (admin, ingress) if settings.serve_only || admin.is_some() || ingress.is_some() => {
                print_manual_steps(&names, &endpoint_uri, admin.as_deref(), ingress.as_deref());
                wait_for_stop(settings.duration).await;
                Ok((Vec::new(), Ending::Interrupted))
            }
            _ => {
                let base_dir = dev_data_dir();
                let options = LocalServerOptions::new(&base_dir);
                // Before --fresh deletes anything: a server still running on
                // this data dir holds the ports.
                options.ports_free()?;
                if settings.fresh && base_dir.exists() {
                    println!("--fresh: removing {}", base_dir.display());
                    std::fs::remove_dir_all(&base_dir)?;
                }
                println!("starting restate-server, data in {}", base_dir.display());
                let mut local = LocalServer::start(options).await?;
                let server = Server {
                    admin: local.admin(),
                    ingress: local.ingress(),
                    log: Some(local.log_path()),
                };
                let result = drive(&settings, &names, &endpoint_uri, &server, page.take()).await;
                local.stop(Duration::from_secs(10));
                result
            }
        };
        let _ = stop_endpoint.send(());
        let _ = serving.await;
        let (statuses, ending) = result?;
        if ending != Ending::Interrupted {
            wrote_something(&statuses)?;
        }
        Ok(statuses)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Every pipeline finished by itself, or `--duration` passed.
    Ran,
    /// The user stopped it (Ctrl-C), or the runner only served.
    Interrupted,
}

/// Fails the run if a pipeline has written nothing at all (in this run or
/// before): an empty output must never look like success.
fn wrote_something(statuses: &[(ServiceNames, Status)]) -> Result<(), RunError> {
    let Some((names, status)) = statuses.iter().find(|(_, s)| s.records_out == 0) else {
        return Ok(());
    };
    let mut why = format!("{} records in", status.records_in);
    if status.dead_letters > 0 {
        why += &format!(", {} dead letters", status.dead_letters);
    }
    if status.late_records > 0 {
        why += &format!(", {} late records", status.late_records);
    }
    if status.pending_timers > 0 {
        why += &format!(
            ", {} windows or timers still open (the watermark has not passed them)",
            status.pending_timers
        );
    }
    if status.records_in == 0 {
        why += "; its source had nothing to read";
    }
    Err(RunError::WroteNothing {
        pipeline: names.pipeline.clone(),
        why,
    })
}

/// The server a run drives: its APIs, and its log when the runner started it.
struct Server {
    admin: AdminClient,
    ingress: IngressClient,
    log: Option<PathBuf>,
}

/// Where this program's local dev server keeps its data:
/// `$CARGO_TARGET_DIR/restate-dev/<program>`, else
/// `./target/restate-dev/<program>`, so that no program touches another's.
fn dev_data_dir() -> PathBuf {
    let program = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "default".to_owned());
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("restate-dev")
        .join(program)
}

/// The page's listener, as `--page` and `--no-page` ask: a taken default
/// address is skipped with a warning, a taken `--page` fails the run.
async fn bind_page(at: PageAt) -> Result<Option<TcpListener>, RunError> {
    let (addr, given) = match at {
        PageAt::Off => return Ok(None),
        PageAt::Default(addr) => (addr, false),
        PageAt::Given(addr) => (addr, true),
    };
    match page::bind(addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(source) if given => Err(EndpointError::Bind { addr, source }.into()),
        Err(error) => {
            println!("no page: cannot listen on {addr} ({error}); give --page ADDR for another");
            Ok(None)
        }
    }
}

/// `--replay`: sends dead letters in again, each pipeline's, and says
/// what happened; a letter not in the list, or that cannot be replayed, is
/// said and the run goes on.
async fn replay(ingress: &IngressClient, names: &[ServiceNames], which: Replay) {
    let id = match which {
        Replay::All => None,
        Replay::One(id) => Some(id),
    };
    for pipeline in names {
        match ingress.replay(pipeline, id).await {
            Ok(done) => println!(
                "{}: replayed {} dead letters, {} failed again",
                pipeline.pipeline,
                done.replayed.len(),
                done.failed_again.len()
            ),
            Err(error) => println!("{}: replay: {error}", pipeline.pipeline),
        }
    }
}

/// A task stopped when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn drive(
    settings: &Settings,
    names: &[ServiceNames],
    endpoint_uri: &str,
    server: &Server,
    page: Option<(TcpListener, Vec<(ServiceNames, Graph)>)>,
) -> Result<(Vec<(ServiceNames, Status)>, Ending), RunError> {
    let (admin, ingress) = (&server.admin, &server.ingress);
    admin.register(endpoint_uri).await?;
    println!("registered {endpoint_uri} with {}", admin.url());
    let _page = match page {
        Some((listener, pipelines)) => {
            let addr = listener.local_addr()?;
            println!("page on http://{addr}/");
            let page = page::Page {
                ingress: ingress.clone(),
                pipelines,
                tokens: settings.tokens,
                addr,
            };
            Some(AbortOnDrop(tokio::spawn(page::serve(listener, page))))
        }
        None => None,
    };
    let mut progress = Vec::new();
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
        progress.push(Progress::from(&status));
    }
    if let Some(which) = settings.replay {
        replay(ingress, names, which).await;
    }
    println!(
        "progress every second; Ctrl-C stops the pipelines cleanly (run again to resume, --fresh to start over)"
    );
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut statuses = Vec::new();
    let mut stopping = false;
    let mut ticks: u64 = 0;
    let mut answered = Instant::now();
    let mut said_silence: Option<Instant> = None;
    let mut said_stopped = BTreeSet::new();
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                if stopping {
                    println!("quitting without waiting for the tokens to park");
                    return Ok((statuses, Ending::Interrupted));
                }
                println!("stopping: each token finishes its batch and parks (Ctrl-C again quits at once)");
                for pipeline in names {
                    // A silent server must not hold the second Ctrl-C up.
                    match tokio::time::timeout(STATUS_WAIT, ingress.stop(pipeline)).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => println!("{}: stop failed: {error}", pipeline.pipeline),
                        Err(_) => println!("{}: the server did not answer `stop`; Ctrl-C again quits", pipeline.pipeline),
                    }
                }
                stopping = true;
                ctrl_c.set(tokio::signal::ctrl_c());
            }
            _ = ticker.tick() => {}
        }
        let timed_out = settings.duration.is_some_and(|d| started.elapsed() >= d);
        let fresh = match poll(names, ingress, &mut progress).await {
            Ok(fresh) => fresh,
            Err(Unanswered::Failed(error)) => return Err(error.into()),
            Err(Unanswered::Silent(error)) if !timed_out => {
                // The server does not answer: say why, if it can be told,
                // and keep serving; the pipeline goes on once it does.
                let silent = answered.elapsed();
                let due = said_silence.is_none_or(|at| at.elapsed() >= SILENCE_REPORT_AFTER);
                if silent >= SILENCE_REPORT_AFTER && due {
                    let log = server.log.as_deref();
                    let said = stall::describe_silence(admin, log, silent, &error).await;
                    println!("{said}");
                    said_silence = Some(Instant::now());
                }
                continue;
            }
            Err(Unanswered::Silent(error)) => {
                println!("the server did not answer at the end of the run: {error}");
                return Ok((statuses, Ending::Interrupted));
            }
        };
        if said_silence.take().is_some() {
            println!(
                "the server answers again after {}s",
                answered.elapsed().as_secs()
            );
        }
        answered = Instant::now();
        statuses = fresh;
        for (pipeline, status) in &statuses {
            if let (0, Some(reason)) = (status.tokens_in_flight, &status.conflict) {
                return Err(RunError::Halted {
                    pipeline: pipeline.pipeline.clone(),
                    reason: reason.clone(),
                });
            }
        }
        if ticks.is_multiple_of(STALL_CHECK_TICKS) {
            for pipeline in names {
                // Bounded: a server that stops answering now is the next
                // status's to report.
                let resume = stall::resume_stalled(admin, pipeline);
                if tokio::time::timeout(STATUS_WAIT, resume).await.is_err() {
                    break;
                }
            }
        }
        ticks += 1;
        let all_finished = statuses.iter().all(|(_, s)| s.finished);
        if all_finished && stopping {
            println!("stopped: every token parked; run again to resume");
            return Ok((statuses, Ending::Interrupted));
        }
        if statuses.iter().all(|(_, s)| ran_out(s)) || timed_out {
            return Ok((statuses, Ending::Ran));
        }
        if !stopping {
            say_stopped_from_outside(&statuses, &mut said_stopped);
        }
    }
}

/// Whether a pipeline ended by itself: bounded, and every record of its
/// input processed. One stopped from outside (the page's Stop, or `stop`)
/// has not: it is paused, and the run serves on so that it can be resumed.
fn ran_out(status: &Status) -> bool {
    status.bounded && status.finished && !status.stopped
}

/// Says, once each time it happens, that a pipeline was stopped by
/// someone else than this run (the page's Stop, or `stop`), and that the
/// run serves on.
fn say_stopped_from_outside(statuses: &[(ServiceNames, Status)], said: &mut BTreeSet<String>) {
    for (names, status) in statuses {
        if !status.stopped {
            said.remove(&names.pipeline);
        } else if status.finished && said.insert(names.pipeline.clone()) {
            println!(
                "{}: stopped from outside (the page's Stop, or `stop`), every token parked; \
                 Resume on the page or `addTokens` goes on, Ctrl-C ends the run",
                names.pipeline
            );
        }
    }
}

/// How often (in progress ticks of a second) the runner looks for paused
/// and retrying invocations.
const STALL_CHECK_TICKS: u64 = 5;

/// How long the server may not answer before the runner says so, and how
/// often it says so again.
const SILENCE_REPORT_AFTER: Duration = Duration::from_secs(5);

/// How long one status question may take in the progress loop.
const STATUS_WAIT: Duration = Duration::from_secs(5);

/// Why the progress loop has no status.
enum Unanswered {
    /// No answer in time, no connection, or a gateway's 502, 503 or 504: it
    /// may come back, so the runner waits and says why.
    Silent(String),
    /// An answer that will not change by waiting.
    Failed(ApiError),
}

/// Asks every pipeline's status and prints its progress line.
async fn poll(
    names: &[ServiceNames],
    ingress: &IngressClient,
    progress: &mut [Progress],
) -> Result<Vec<(ServiceNames, Status)>, Unanswered> {
    let mut statuses = Vec::with_capacity(names.len());
    for (pipeline, progress) in names.iter().zip(progress.iter_mut()) {
        let status = match tokio::time::timeout(STATUS_WAIT, ingress.status(pipeline)).await {
            Ok(Ok(status)) => status,
            Ok(Err(
                error @ (ApiError::Http(_)
                | ApiError::Status {
                    status: 502..=504, ..
                }),
            )) => return Err(Unanswered::Silent(error.to_string())),
            Ok(Err(error)) => return Err(Unanswered::Failed(error)),
            Err(_) => {
                let pipeline = &pipeline.pipeline;
                return Err(Unanswered::Silent(format!(
                    "status of {pipeline} took over {STATUS_WAIT:?}"
                )));
            }
        };
        if let Some(line) = progress.line(&pipeline.pipeline, &status) {
            println!("{line}");
        }
        stream_runtime::metrics::record_status(&pipeline.pipeline, &status);
        statuses.push((pipeline.clone(), status));
    }
    Ok(statuses)
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
