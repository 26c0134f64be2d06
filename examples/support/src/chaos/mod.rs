//! Fault injection: run a pipeline (a word count, event-time windows, or a
//! word count from Kafka to Kafka or to PostgreSQL) over a
//! sequence-numbered, skewed input while SIGKILLing the endpoint and
//! restate-server at random moments, then check the results exactly.
//!
//! The endpoint runs as a child process (`chaos_endpoint`) so that it can be
//! killed; the server is a [`LocalServer`] restarted on the same data dir.

mod connectors;
mod process;
mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

pub use connectors::Connectors;
pub use process::sibling_binary;
use process::{free_port, status, EndpointProcess, Schedule};
use stream_runtime::restate::{AdminClient, IngressClient, LocalServer, LocalServerOptions};
use stream_runtime::{ServiceNames, Status};
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
}

impl ChaosConfig {
    /// The CI kill test: at least 20,000 records, 5 endpoint and 2 server
    /// kills, for the pipelines with no connector.
    pub fn ci() -> Self {
        Self {
            records: 20_000,
            endpoint_kills: 5,
            server_kills: 2,
            tokens: 4,
            batch: 20,
            seed: seed_from_clock(),
            limit: Duration::from_secs(600),
            workloads: Workload::BUILT_IN.to_vec(),
            connectors: Connectors::default(),
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
    /// Which pipelines to kill, one run each (default: all four)
    #[arg(long, value_enum, value_delimiter = ',')]
    pub pipeline: Vec<Workload>,
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
    /// The reports as one Markdown table, a row per pipeline.
    pub fn table(reports: &[ChaosReport]) -> String {
        let mut table = String::from(
            "| pipeline | records | results | endpoint kills | server kills | lost | duplicated | wall time | tokens injected / in flight / parked | seed |\n\
             |---|--------:|--------:|---------------:|-------------:|-----:|-----------:|----------:|-----------------:|-----:|",
        );
        for report in reports {
            table += &format!(
                "\n| {} | {} | {} | {} | {} | {} | {} | {:.1} s | {} / {} / {} | {} |",
                report.workload.label(),
                report.config.records,
                report.status.records_out,
                report.endpoint_kills,
                report.server_kills,
                report.lost,
                report.duplicated,
                report.wall.as_secs_f64(),
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
    let _started = connectors.start_missing(kafka, postgres, &servers).await?;
    let mut reports = Vec::new();
    for workload in &config.workloads {
        reports.push(run_one(*workload, config, &connectors, endpoint_binary).await?);
    }
    Ok(reports)
}

/// Runs one pipeline under kills and checks every invariant.
async fn run_one(
    workload: Workload,
    config: &ChaosConfig,
    connectors: &Connectors,
    endpoint_binary: &Path,
) -> Result<ChaosReport, String> {
    let scratch = std::env::temp_dir().join(format!(
        "stream-chaos-{}-{}-{}",
        std::process::id(),
        workload.pipeline_name(),
        config.seed
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let result = run_in(workload, config, connectors, endpoint_binary, &scratch).await;
    if result.as_ref().is_ok_and(|r| r.violations.is_empty()) {
        let _ = std::fs::remove_dir_all(&scratch);
    } else {
        eprintln!("chaos: logs and data kept in {}", scratch.display());
    }
    result
}

async fn run_in(
    workload: Workload,
    config: &ChaosConfig,
    connectors: &Connectors,
    endpoint_binary: &Path,
    scratch: &Path,
) -> Result<ChaosReport, String> {
    let names = workload.names();
    let output = scratch.join("output.jsonl");
    let outputs = workload.outputs(config.records);
    workload.prepare(connectors, config.records).await?;
    // A bounded pipeline finishes by itself; an endless one (a topic) is
    // done once every result is written, and is then stopped.
    let done = |status: &Status| {
        status.finished || (!workload.is_bounded() && status.records_out >= outputs)
    };
    let options = LocalServerOptions::new(scratch.join("restate")).ports(
        free_port()?,
        free_port()?,
        free_port()?,
    );
    let mut server = LocalServer::start(options)
        .await
        .map_err(|e| e.to_string())?;
    let port = free_port()?;
    let mut endpoint = EndpointProcess {
        binary: endpoint_binary.to_owned(),
        args: EndpointArgs {
            port,
            output: output.clone(),
            records: config.records,
            batch: config.batch,
            workload,
            connectors: connectors.clone(),
        }
        .to_args(),
        port,
        log: scratch.join("endpoint.log"),
        child: None,
    };
    endpoint.start().await?;
    let admin: AdminClient = server.admin();
    let ingress: IngressClient = server.ingress();
    admin
        .register(&format!("http://127.0.0.1:{port}"))
        .await
        .map_err(|e| e.to_string())?;
    status(&ingress, &names, Duration::from_secs(30)).await?;

    let started = Instant::now();
    ingress
        .add_tokens(&names, config.tokens)
        .await
        .map_err(|e| e.to_string())?;

    let mut schedule = Schedule(config.seed);
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
        if schedule.next() % (endpoint_left + server_left) < server_left {
            server.kill();
            tokio::time::sleep(schedule.millis(0, 400)).await;
            server.restart().await.map_err(|e| e.to_string())?;
            server_kills += 1;
        } else {
            endpoint.kill();
            tokio::time::sleep(schedule.millis(0, 400)).await;
            endpoint.start().await?;
            endpoint_kills += 1;
        }
    }

    let deadline = started + config.limit;
    let mut stopped = workload.is_bounded();
    let status = loop {
        let now = status(&ingress, &names, Duration::from_secs(120)).await?;
        if now.finished {
            break now;
        }
        if !stopped && done(&now) {
            stopped = ingress.stop(&names).await.is_ok();
        }
        if Instant::now() > deadline {
            return Err(format!("not finished after {:?}: {now:?}", config.limit));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let wall = started.elapsed();

    let outcome = workload
        .check(&output, connectors, &admin, config.records)
        .await?;
    violations.extend(outcome.violations);
    check_tokens_and_invocations(&admin, &names, config, outputs, &status, &mut violations).await?;

    endpoint.kill();
    server.stop(Duration::from_secs(5));
    Ok(ChaosReport {
        workload,
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
    outputs: u64,
    status: &Status,
    violations: &mut Vec<String>,
) -> Result<(), String> {
    if status.tokens_injected != config.tokens || status.tokens_in_flight != 0 {
        violations.push(format!(
            "tokens: injected {}, still in flight {} (all {} should have parked)",
            status.tokens_injected, status.tokens_in_flight, config.tokens
        ));
    }
    if status.records_in != config.records
        || status.records_out != outputs
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
