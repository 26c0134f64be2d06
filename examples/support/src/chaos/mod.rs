//! Fault injection: run a pipeline (a word count, event-time windows, or a
//! word count from Kafka to Kafka or to PostgreSQL) over a
//! sequence-numbered, skewed input while SIGKILLing the endpoint and
//! restate-server at random moments, then check the results exactly.
//!
//! The endpoint runs as a child process (`chaos_endpoint`) so that it can be
//! killed; the server is a
//! [`LocalServer`](stream_runner::LocalServer) restarted on the
//! same data dir. A run can also have a cluster of servers and endpoint
//! replicas behind nginx ([`Shape`]); then one node or one replica is
//! killed at a time.

mod balancer;
mod cdc;
mod connectors;
mod process;
mod producer;
mod snapshots;
mod topology;
mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

pub use connectors::Connectors;
pub use process::sibling_binary;
use process::{status, Schedule};
use stream_runtime::restate::{AdminClient, IngressClient};
use stream_runtime::{ServiceNames, Status};
pub use topology::Shape;
use topology::Topology;
pub use workload::{key_of, time_of, Outcome, WindowCount, WordCount, Workload, KEYS};

/// The arguments of the `chaos_endpoint` binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(about = "Serves the chaos word count, to be SIGKILLed")]
pub struct EndpointArgs {
    /// Port to serve on (loopback)
    #[arg(long)]
    pub port: u16,
    /// The file sink's path
    #[arg(long)]
    pub output: PathBuf,
    /// Records in the input
    #[arg(long)]
    pub records: u64,
    /// Records per token per round
    #[arg(long, default_value_t = 20)]
    pub batch: u32,
    /// Which pipeline to serve
    #[arg(long, value_enum, default_value_t = Workload::Count)]
    pub workload: Workload,
    /// Where a connector pipeline's servers are
    #[command(flatten)]
    pub connectors: Connectors,
}

impl EndpointArgs {
    /// The command-line words that give these arguments.
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--port".into(),
            self.port.to_string(),
            "--output".into(),
            self.output.display().to_string(),
            "--records".into(),
            self.records.to_string(),
            "--batch".into(),
            self.batch.to_string(),
            "--workload".into(),
            self.workload.arg(),
            "--tag".into(),
            self.connectors.tag.to_string(),
        ];
        if let Some(kafka) = &self.connectors.kafka {
            args.extend(["--kafka".into(), kafka.clone()]);
        }
        if let Some(postgres) = &self.connectors.postgres {
            args.extend(["--postgres".into(), postgres.clone()]);
        }
        args
    }
}

/// One fault-injection run's settings.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Records in the input.
    pub records: u64,
    /// SIGKILLs of the endpoint, each followed by a restart.
    pub endpoint_kills: u32,
    /// SIGKILLs of restate-server, each followed by a restart on the same data dir.
    pub server_kills: u32,
    /// Tokens injected.
    pub tokens: u64,
    /// Records per token per round.
    pub batch: u32,
    /// Seeds the kill schedule, so a failing run can be repeated.
    pub seed: u64,
    /// The run fails if it has not finished after this long.
    pub limit: Duration,
    /// The pipelines killed, one run (and one table row) each.
    pub workloads: Vec<Workload>,
    /// The servers of the connector pipelines; a run starts those it
    /// needs and is not given.
    pub connectors: Connectors,
    /// Where each pipeline runs, one run (and row) per shape.
    pub shapes: Vec<Shape>,
    /// Tokens added once a third of the results are written (0: none), to
    /// show a rescale while running.
    pub add_tokens: u64,
    /// Whether a cluster snapshots its partitions to an S3-compatible store
    /// (moto's server), so that its log trims.
    pub snapshots: bool,
}

impl ChaosConfig {
    /// The CI kill test: at least 20,000 records, 5 endpoint and 2 server
    /// kills, for the pipelines with no connector.
    ///
    /// Each pipeline is given 20 minutes. The slowest, the join after
    /// stages, takes about 3 minutes alone on a 2-core machine in a debug
    /// build, and a CI machine has run the whole suite 2.5 times slower
    /// than this kind of machine, with other tests beside this one.
    pub fn ci() -> Self {
        Self {
            records: 20_000,
            endpoint_kills: 5,
            server_kills: 2,
            tokens: 4,
            batch: 20,
            seed: seed_from_clock(),
            limit: Duration::from_secs(1_200),
            workloads: Workload::BUILT_IN.to_vec(),
            connectors: Connectors::default(),
            shapes: vec![Shape::SINGLE],
            add_tokens: 0,
            snapshots: false,
        }
    }

    /// The soak: 100,000 records, 30 endpoint and 5 server kills.
    pub fn soak() -> Self {
        Self {
            records: 100_000,
            endpoint_kills: 30,
            server_kills: 5,
            tokens: 6,
            batch: 25,
            seed: seed_from_clock(),
            limit: Duration::from_secs(3_600),
            workloads: Workload::ALL.to_vec(),
            connectors: Connectors::default(),
            shapes: vec![Shape::SINGLE],
            add_tokens: 0,
            snapshots: false,
        }
    }

    /// These settings with the ones `args` gives.
    pub fn with(mut self, args: &ChaosArgs) -> Self {
        self.records = args.records.unwrap_or(self.records);
        self.endpoint_kills = args.endpoint_kills.unwrap_or(self.endpoint_kills);
        self.server_kills = args.server_kills.unwrap_or(self.server_kills);
        self.tokens = args.tokens.unwrap_or(self.tokens);
        self.batch = args.batch.unwrap_or(self.batch);
        self.seed = args.seed.unwrap_or(self.seed);
        if !args.pipeline.is_empty() {
            self.workloads = args.pipeline.clone();
        }
        if !args.shape.is_empty() {
            self.shapes = args.shape.clone();
        }
        self.add_tokens = args.add_tokens.unwrap_or(self.add_tokens);
        self.snapshots |= args.snapshots;
        self
    }
}

/// A run's settings from the command line, each overriding a default.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ChaosArgs {
    /// Records in the input
    #[arg(long)]
    pub records: Option<u64>,
    /// SIGKILLs of the endpoint, each followed by a restart
    #[arg(long)]
    pub endpoint_kills: Option<u32>,
    /// SIGKILLs of restate-server, each followed by a restart on the same data dir
    #[arg(long)]
    pub server_kills: Option<u32>,
    /// Tokens injected
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub tokens: Option<u64>,
    /// Records per token per round
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// Seeds the kill schedule, to repeat a run
    #[arg(long)]
    pub seed: Option<u64>,
    /// Which pipelines to kill, one run each (default: all of them)
    #[arg(long, value_enum, value_delimiter = ',')]
    pub pipeline: Vec<Workload>,
    /// Server nodes x endpoint replicas, one run each, such as 1x1,3x2 (a
    /// cluster has replication 2; replicas sit behind nginx)
    #[arg(long, value_delimiter = ',', value_parser = Shape::parse)]
    pub shape: Vec<Shape>,
    /// Tokens added once a third of the results are written
    #[arg(long)]
    pub add_tokens: Option<u64>,
    /// A cluster snapshots to an S3-compatible store (moto's server, from
    /// PyPI), so that its log trims
    #[arg(long)]
    pub snapshots: bool,
}

fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct ChaosReport {
    /// The pipeline it killed.
    pub workload: Workload,
    /// Where it ran.
    pub shape: Shape,
    /// Results per second before and after tokens were added, if they were.
    pub rescale: Option<(f64, f64)>,
    /// Partitions with a snapshot in the store, for a cluster with one.
    pub snapshotted: Option<usize>,
    /// The settings it ran with.
    pub config: ChaosConfig,
    /// Endpoint kills made while the pipeline was running.
    pub endpoint_kills: u32,
    /// Server kills made while the pipeline was running.
    pub server_kills: u32,
    /// Results missing from the file (running counts, or windows).
    pub lost: u64,
    /// Results in the file beyond one per expected result.
    pub duplicated: u64,
    /// From `addTokens` to `finished`.
    pub wall: Duration,
    /// The status at the end.
    pub status: Status,
    /// Every broken invariant, in words. Empty when the run is exact.
    pub violations: Vec<String>,
}

impl ChaosReport {
    /// The reports as one Markdown table, a row per pipeline and shape.
    pub fn table(reports: &[ChaosReport]) -> String {
        let mut table = String::from(
            "| pipeline | shape | records | results | endpoint kills | server kills | lost | duplicated | wall time | results/s | tokens injected / in flight / parked | results/s before / after adding tokens | partitions snapshotted | seed |\n\
             |---|---|--------:|--------:|---------------:|-------------:|-----:|-----------:|----------:|----------:|-----------------:|---|--:|-----:|",
        );
        for report in reports {
            let seconds = report.wall.as_secs_f64();
            let rescale = report.rescale.map_or("-".to_owned(), |(before, after)| {
                format!("{before:.0} / {after:.0}")
            });
            let snapshotted = report.snapshotted.map_or("-".to_owned(), |n| n.to_string());
            table += &format!(
                "\n| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s | {:.0} | {} / {} / {} | {rescale} | {snapshotted} | {} |",
                report.workload.label(),
                report.shape.label(),
                report.config.records,
                report.status.records_out,
                report.endpoint_kills,
                report.server_kills,
                report.lost,
                report.duplicated,
                seconds,
                report.status.records_out as f64 / seconds.max(1e-9),
                report.status.tokens_injected,
                report.status.tokens_in_flight,
                report.status.tokens_injected - report.status.tokens_in_flight,
                report.config.seed,
            );
        }
        table
    }
}

/// Runs each of the config's pipelines under kills, one after the other,
/// and checks every invariant of each.
pub async fn run(config: &ChaosConfig, endpoint_binary: &Path) -> Result<Vec<ChaosReport>, String> {
    let mut connectors = config.connectors.clone();
    connectors.tag = config.seed;
    let kafka = config.workloads.iter().any(|w| w.needs_kafka());
    let postgres = config.workloads.iter().any(|w| w.needs_postgres());
    let servers = std::env::temp_dir().join(format!(
        "stream-chaos-{}-servers-{}",
        std::process::id(),
        config.seed
    ));
    let mut started = connectors.start_missing(kafka, postgres, &servers).await?;
    let mut reports = Vec::new();
    for workload in &config.workloads {
        for shape in &config.shapes {
            let report = run_one(
                *workload,
                *shape,
                config,
                (&connectors, &mut started),
                endpoint_binary,
            )
            .await?;
            reports.push(report);
        }
    }
    Ok(reports)
}

/// Runs one pipeline under kills and checks every invariant.
async fn run_one(
    workload: Workload,
    shape: Shape,
    config: &ChaosConfig,
    servers: (&Connectors, &mut connectors::Started),
    endpoint_binary: &Path,
) -> Result<ChaosReport, String> {
    let scratch = std::env::temp_dir().join(format!(
        "stream-chaos-{}-{}-{}x{}-{}",
        std::process::id(),
        workload.pipeline_name(),
        shape.nodes,
        shape.replicas,
        config.seed
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let result = run_in(workload, shape, config, servers, endpoint_binary, &scratch).await;
    if result.as_ref().is_ok_and(|r| r.violations.is_empty()) {
        let _ = std::fs::remove_dir_all(&scratch);
    } else {
        eprintln!("chaos: logs and data kept in {}", scratch.display());
    }
    result
}

async fn run_in(
    workload: Workload,
    shape: Shape,
    config: &ChaosConfig,
    (connectors, ours): (&Connectors, &mut connectors::Started),
    endpoint_binary: &Path,
    scratch: &Path,
) -> Result<ChaosReport, String> {
    let names = workload.names();
    let output = scratch.join("output.jsonl");
    let outputs = workload.outputs(config.records, connectors.tag).await?;
    workload.prepare(connectors, config.records).await?;
    // A bounded pipeline finishes by itself; an endless one (a topic) is
    // done once every result is written, and is then stopped.
    let done = |status: &Status| {
        status.finished || (!workload.is_bounded() && status.records_out >= outputs)
    };
    let endpoint_args = |port| {
        EndpointArgs {
            port,
            output: output.clone(),
            records: config.records,
            batch: config.batch,
            workload,
            connectors: connectors.clone(),
        }
        .to_args()
    };
    let mut topology = Topology::start(
        shape,
        config.snapshots,
        scratch,
        endpoint_binary,
        endpoint_args,
    )
    .await?;
    let admin: AdminClient = topology.admin();
    let ingress: IngressClient = topology.ingress();
    admin
        .register(&topology.endpoint_uri())
        .await
        .map_err(|e| e.to_string())?;
    status(&ingress, &names, Duration::from_secs(30)).await?;

    let started = Instant::now();
    ingress
        .add_tokens(&names, config.tokens)
        .await
        .map_err(|e| e.to_string())?;
    let producer = (workload == Workload::Push).then(|| {
        let produce = producer::produce(ingress.clone(), names.clone(), config.records);
        tokio::spawn(produce)
    });
    let writer = (workload == Workload::Cdc).then(|| {
        let name = workload.pipeline_name().to_owned();
        tokio::spawn(connectors.clone().write_cdc_rows(name, config.records))
    });
    // The CDC row crashes its PostgreSQL (if the run started it) after a
    // third and two thirds of the kills.
    let kills = config.endpoint_kills + config.server_kills;
    let mut postgres_restarts = Vec::new();
    if workload == Workload::Cdc && ours.postgres.is_some() {
        postgres_restarts = vec![kills / 3, 2 * kills / 3];
    }
    let mut postgres_restarted = 0u32;

    let mut schedule = Schedule(config.seed);
    let mut rescale = Rescale::new(config.add_tokens, outputs, started);
    let (mut endpoint_kills, mut server_kills) = (0u32, 0u32);
    let mut violations = Vec::new();
    while endpoint_kills < config.endpoint_kills || server_kills < config.server_kills {
        tokio::time::sleep(schedule.millis(150, 900)).await;
        let now = status(&ingress, &names, Duration::from_secs(120)).await?;
        if done(&now) {
            violations.push(format!(
                "the run finished after {endpoint_kills} endpoint and {server_kills} server kills, \
                 before all kills were made; use more records or a smaller batch"
            ));
            break;
        }
        let endpoint_left = u64::from(config.endpoint_kills - endpoint_kills);
        let server_left = u64::from(config.server_kills - server_kills);
        rescale.at(&now, &ingress, &names).await?;
        if schedule.next() % (endpoint_left + server_left) < server_left {
            topology.kill_server(&mut schedule).await?;
            server_kills += 1;
        } else {
            topology.kill_endpoint(&mut schedule).await?;
            endpoint_kills += 1;
        }
        if postgres_restarts.contains(&(endpoint_kills + server_kills)) {
            if let Some(postgres) = ours.postgres.as_mut() {
                postgres
                    .crash_and_restart()
                    .await
                    .map_err(|e| e.to_string())?;
                postgres_restarted += 1;
            }
        }
    }

    let deadline = started + config.limit;
    let mut stopped = workload.is_bounded();
    let status = loop {
        let now = status(&ingress, &names, Duration::from_secs(120)).await?;
        if now.finished {
            break now;
        }
        rescale.at(&now, &ingress, &names).await?;
        if !stopped && done(&now) {
            stopped = ingress.stop(&names).await.is_ok();
        }
        if Instant::now() > deadline {
            return Err(format!("not finished after {:?}: {now:?}", config.limit));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let wall = started.elapsed();
    if let Some(writer) = writer {
        match writer.await.map_err(|e| e.to_string())? {
            Ok(again) => eprintln!(
                "chaos: PostgreSQL crashed and restarted {postgres_restarted} times; \
                 {again} transactions of the writer tried again"
            ),
            Err(error) => violations.push(format!("the CDC writer stopped: {error}")),
        }
        if postgres_restarted < postgres_restarts.len() as u32 {
            violations.push(format!(
                "PostgreSQL was restarted {postgres_restarted} times, not {}",
                postgres_restarts.len()
            ));
        }
    }
    if let Some(mut producer) = producer {
        // Done before the producer (results beyond the input) leaves it
        // waiting on a full log: it is given the run's time left, no more.
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, &mut producer).await {
            Ok(Ok(Ok(produced))) => eprintln!("chaos: the producer's requests: {produced:?}"),
            Ok(Ok(Err(error))) => violations.push(format!("the producer stopped: {error}")),
            Ok(Err(error)) => violations.push(format!("the producer panicked: {error}")),
            Err(_) => {
                producer.abort();
                violations.push("the producer had not sent every batch when the run ended".into());
            }
        }
    }

    let outcome = workload
        .check(&output, connectors, &admin, config.records)
        .await?;
    violations.extend(outcome.violations);
    let counts = (
        workload.inputs(config.records, connectors.tag),
        outputs,
        workload.has_fixed_outputs(),
    );
    check_tokens_and_invocations(&admin, &names, config, counts, &status, &mut violations).await?;

    let snapshotted = topology.partitions_snapshotted().await?;
    if snapshotted == Some(0) {
        violations.push("no partition snapshot reached the store".to_owned());
    }
    topology.stop();
    Ok(ChaosReport {
        workload,
        shape,
        snapshotted,
        rescale: rescale.rates(status.records_out, started + wall),
        config: config.clone(),
        endpoint_kills,
        server_kills,
        lost: outcome.lost,
        duplicated: outcome.duplicated,
        wall,
        status,
        violations,
    })
}

/// Every token parked (none lost, none made), and nothing is left running,
/// retrying or paused.
async fn check_tokens_and_invocations(
    admin: &AdminClient,
    names: &ServiceNames,
    config: &ChaosConfig,
    (inputs, outputs, workload_fixed): (u64, u64, bool),
    status: &Status,
    violations: &mut Vec<String>,
) -> Result<(), String> {
    let tokens = config.tokens + config.add_tokens;
    if status.tokens_injected != tokens || status.tokens_in_flight != 0 {
        violations.push(format!(
            "tokens: injected {}, still in flight {} (all {tokens} should have parked)",
            status.tokens_injected, status.tokens_in_flight
        ));
    }
    let counted = match workload_fixed {
        true => status.records_out != outputs,
        false => status.records_out < outputs,
    };
    if status.records_in != inputs
        || counted
        || status.dead_letters != 0
        || status.late_records != 0
    {
        violations.push(format!("status counts are off: {status:?}"));
    }
    #[derive(Deserialize)]
    struct Row {
        target: String,
        status: String,
        last_failure: Option<String>,
    }
    let left: Vec<Row> = admin
        .query(&format!(
            "SELECT target, status, last_failure FROM sys_invocation \
             WHERE target_service_name LIKE '{}%' AND status != 'completed'",
            names.pipeline
        ))
        .await
        .map_err(|e| e.to_string())?;
    if !left.is_empty() {
        let left: Vec<String> = left
            .iter()
            .map(|row| {
                let failure = row.last_failure.as_deref().unwrap_or("no failure");
                format!("{} {} ({failure})", row.target, row.status)
            })
            .collect();
        violations.push(format!(
            "invocations left running, retrying or paused: {}",
            left.join("; ")
        ));
    }
    Ok(())
}

/// Adding tokens while a pipeline runs, and the rate before and after.
struct Rescale {
    tokens: u64,
    outputs: u64,
    started: Instant,
    added: Option<(Instant, u64, f64)>,
}

impl Rescale {
    fn new(tokens: u64, outputs: u64, started: Instant) -> Self {
        Self {
            tokens,
            outputs,
            started,
            added: None,
        }
    }

    /// Adds the tokens once a third of the results are written.
    async fn at(
        &mut self,
        now: &Status,
        ingress: &IngressClient,
        names: &ServiceNames,
    ) -> Result<(), String> {
        if self.tokens == 0 || self.added.is_some() || now.records_out * 3 < self.outputs {
            return Ok(());
        }
        let at = Instant::now();
        let before = now.records_out as f64 / (at - self.started).as_secs_f64().max(1e-9);
        ingress
            .add_tokens(names, self.tokens)
            .await
            .map_err(|e| e.to_string())?;
        self.added = Some((at, now.records_out, before));
        Ok(())
    }

    /// Results per second before the tokens were added, and after, up to
    /// `records_out` at `end`.
    fn rates(&self, records_out: u64, end: Instant) -> Option<(f64, f64)> {
        let (at, out, before) = self.added?;
        let after = records_out.saturating_sub(out) as f64 / (end - at).as_secs_f64().max(1e-9);
        Some((before, after))
    }
}
