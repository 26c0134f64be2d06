//! Fault injection: run a word count over a sequence-numbered, skewed input
//! while SIGKILLing the endpoint and restate-server at random moments, then
//! check the results exactly.
//!
//! The endpoint runs as a child process (`chaos_endpoint`) so that it can be
//! killed; the server is a [`LocalServer`] restarted on the same data dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::keys::{mix, zipf_rank};
use crate::running_counts::{check_running_counts, expected_counts};
use stream_runtime::restate::{
    spawn_logged, AdminClient, IngressClient, LocalServer, LocalServerOptions,
};
use stream_runtime::{FileSink, IntoPipeline, Pipeline, Sequence, ServiceNames, Status};

/// The pipeline's name, and so its services' prefix.
pub const PIPELINE: &str = "ChaosWordCount";
/// How many distinct keys the input spreads over, skewed.
pub const KEYS: u64 = 50;

/// A word and its running count, as written to the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCount {
    /// The key.
    pub word: String,
    /// How many times it was seen so far.
    pub count: u64,
}

/// The key of sequence number `n`: key `k` has weight about 1/(k+1).
pub fn key_of(n: u64) -> String {
    format!("key{:02}", zipf_rank(n, KEYS))
}

/// The chaos word count: `records` sequence numbers, keyed by [`key_of`],
/// counted per key, every running count appended to `output` exactly once.
pub fn pipeline(output: &Path, records: u64, batch: u32) -> impl IntoPipeline {
    Pipeline::named(PIPELINE)
        .batch_size(batch)
        .source(Sequence::new().take(records).with_splits(2))
        .map(|n| WordCount {
            word: key_of(n),
            count: 1,
        })
        .key_by(|wc| wc.word.clone())
        .reduce(|a, b| WordCount {
            count: a.count + b.count,
            ..a
        })
        .sink(FileSink::new(output))
}

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
}

impl EndpointArgs {
    /// The command-line words that give these arguments.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--port".into(),
            self.port.to_string(),
            "--output".into(),
            self.output.display().to_string(),
            "--records".into(),
            self.records.to_string(),
            "--batch".into(),
            self.batch.to_string(),
        ]
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
}

impl ChaosConfig {
    /// The CI kill test: at least 20,000 records, 5 endpoint and 2 server kills.
    pub fn ci() -> Self {
        Self {
            records: 20_000,
            endpoint_kills: 5,
            server_kills: 2,
            tokens: 4,
            batch: 20,
            seed: seed_from_clock(),
            limit: Duration::from_secs(600),
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
    /// The settings it ran with.
    pub config: ChaosConfig,
    /// Endpoint kills made while the pipeline was running.
    pub endpoint_kills: u32,
    /// Server kills made while the pipeline was running.
    pub server_kills: u32,
    /// Running counts missing from the file.
    pub lost: u64,
    /// Lines in the file beyond one per running count.
    pub duplicated: u64,
    /// From `addTokens` to `finished`.
    pub wall: Duration,
    /// The status at the end.
    pub status: Status,
    /// Every broken invariant, in words. Empty when the run is exact.
    pub violations: Vec<String>,
}

impl ChaosReport {
    /// The report as a Markdown table.
    pub fn table(&self) -> String {
        format!(
            "| records | endpoint kills | server kills | lost | duplicated | wall time | tokens injected / in flight / parked | seed |\n\
             |--------:|---------------:|-------------:|-----:|-----------:|----------:|-----------------:|-----:|\n\
             | {} | {} | {} | {} | {} | {:.1} s | {} / {} / {} | {} |",
            self.config.records,
            self.endpoint_kills,
            self.server_kills,
            self.lost,
            self.duplicated,
            self.wall.as_secs_f64(),
            self.status.tokens_injected,
            self.status.tokens_in_flight,
            self.status.tokens_injected - self.status.tokens_in_flight,
            self.config.seed,
        )
    }
}

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
                "{name} not found next to {}; build it first: cargo build --release --bin {name}",
                exe.display()
            )
        })
}

/// The endpoint child process, restartable on the same port.
struct EndpointProcess {
    binary: PathBuf,
    args: Vec<String>,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl EndpointProcess {
    async fn start(&mut self) -> Result<(), String> {
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

    fn kill(&mut self) {
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
struct Schedule(u64);

impl Schedule {
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low).max(1))
    }
}

fn free_port() -> Result<u16, String> {
    crate::free_port().map_err(|e| e.to_string())
}

/// The pipeline's status, retried while a server or endpoint restarts.
async fn status(
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

/// Runs the pipeline under kills and checks every invariant.
pub async fn run(config: &ChaosConfig, endpoint_binary: &Path) -> Result<ChaosReport, String> {
    let scratch = std::env::temp_dir().join(format!(
        "stream-chaos-{}-{}",
        std::process::id(),
        config.seed
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let result = run_in(config, endpoint_binary, &scratch).await;
    if result.as_ref().is_ok_and(|r| r.violations.is_empty()) {
        let _ = std::fs::remove_dir_all(&scratch);
    } else {
        eprintln!("chaos: logs and data kept in {}", scratch.display());
    }
    result
}

async fn run_in(
    config: &ChaosConfig,
    endpoint_binary: &Path,
    scratch: &Path,
) -> Result<ChaosReport, String> {
    let names = ServiceNames::for_pipeline(PIPELINE);
    let output = scratch.join("output.jsonl");
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
        if now.finished {
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
    let status = loop {
        let now = status(&ingress, &names, Duration::from_secs(120)).await?;
        if now.finished {
            break now;
        }
        if Instant::now() > deadline {
            return Err(format!("not finished after {:?}: {now:?}", config.limit));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let wall = started.elapsed();

    let expected = expected_counts(config.records, key_of);
    let (lost, duplicated) = check_file(&output, &expected, &mut violations)?;
    check_state(&admin, &names, &expected, &mut violations).await?;
    check_tokens_and_invocations(&admin, &names, config, &status, &mut violations).await?;

    endpoint.kill();
    server.stop(Duration::from_secs(5));
    Ok(ChaosReport {
        config: config.clone(),
        endpoint_kills,
        server_kills,
        lost,
        duplicated,
        wall,
        status,
        violations,
    })
}

/// Checks the file against the input: each key's counts 1..n, once each.
/// Returns (lost, duplicated); a malformed line counts as duplicated.
fn check_file(
    output: &Path,
    expected: &BTreeMap<String, u64>,
    violations: &mut Vec<String>,
) -> Result<(u64, u64), String> {
    let check =
        check_running_counts(output, expected).map_err(|e| format!("{}: {e}", output.display()))?;
    if let Some(line) = &check.first_malformed {
        violations.push(format!(
            "{} malformed lines, the first {line}",
            check.malformed
        ));
    }
    let duplicated = check.duplicated + check.malformed;
    if check.lost > 0 || duplicated > 0 {
        violations.push(format!(
            "the file lost {} running counts and duplicated {duplicated}",
            check.lost
        ));
    }
    Ok((check.lost, duplicated))
}

/// The keyed state, read from the server, must equal the input counts.
async fn check_state(
    admin: &AdminClient,
    names: &ServiceNames,
    expected: &BTreeMap<String, u64>,
    violations: &mut Vec<String>,
) -> Result<(), String> {
    let rows = crate::state::keyed_state(admin, names)
        .await
        .map_err(|e| e.to_string())?;
    let mut stored = BTreeMap::new();
    for (key, value) in rows {
        let wc: WordCount =
            serde_json::from_str(&value).map_err(|e| format!("state {key}: {e}"))?;
        stored.insert(wc.word, wc.count);
    }
    if &stored != expected {
        let wrong: Vec<String> = expected
            .iter()
            .filter(|(word, n)| stored.get(*word) != Some(n))
            .map(|(word, n)| format!("{word}: stored {:?}, input {n}", stored.get(word)))
            .collect();
        violations.push(format!(
            "keyed state differs from the input counts: {}",
            wrong.join(", ")
        ));
    }
    Ok(())
}

/// Every token parked (none lost, none made), and nothing is left running,
/// retrying or paused.
async fn check_tokens_and_invocations(
    admin: &AdminClient,
    names: &ServiceNames,
    config: &ChaosConfig,
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
        || status.records_out != config.records
        || status.dead_letters != 0
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
