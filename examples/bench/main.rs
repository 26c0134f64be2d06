//! Throughput, latency and footprint of the word count (per-key reduce,
//! exactly-once file sink), each part on its own freshly started server.
//!
//! 1. **Tables** by batch size, tokens and key count. Each configuration is
//!    its own pipeline over a bounded source, so it finishes and parks its
//!    tokens before the next starts and no run loads another. Throughput is
//!    records over the time from `addTokens` to `finished`.
//!    Each row's output file is checked: every running count exactly once.
//! 2. **Soak**, in a process of its own so that its RSS is its own: the
//!    endless word count at the default batch size for a while (10 minutes
//!    by default), sampling throughput, latency, endpoint RSS and the data
//!    dir as it goes. It then stops the pipeline (`stop` drains it: the tokens
//!    finish their ranges and park) and checks every running count in the
//!    file: exactly once each.
//!
//! 3. **Windows**: a 10-second tumbling count per key over event time, over
//!    1,000 and 100,000 keys, with the delay from the watermark passing a
//!    window's end to its result being durable in the sink.
//!
//! 4. **Idle**: the server's CPU with 10 tokens waiting on an endless source
//!    that has no data, against the server with no tokens.
//!
//! 5. **Kafka to Kafka**: the word count between two topics of a broker
//!    started for it, at saturation, then with the delay from produce to a
//!    readable result at half that rate.
//!
//! 6. **Pushed**: the word count over records pushed over HTTP
//!    (`{name}Ingest/append`) by concurrent producers, as fast as the
//!    pipeline takes them, with the delay from a record's send to its
//!    result's durable write.
//!
//! 7. **CDC**: the word count over the rows inserted into a PostgreSQL
//!    table at full speed, read by change data capture, with the delay from
//!    a row's insert to its result's durable write.
//!
//! Latency is per record, from the source read (after the lease) to the end
//! of the sink write that made it durable.
//!
//! ```sh
//! cargo run --release --features connectors --example bench                  # or: just bench
//! cargo run --release --features connectors --example bench -- --quick       # smaller tables, 1-minute soak
//! cargo run --release --features connectors --example bench -- --soak 600    # only the soak
//! cargo run --release --features connectors --example bench -- --windows     # only the windowed rows
//! cargo run --release --features connectors --example bench -- --graphs      # only the top-N and join rows
//! cargo run --release --features connectors --example bench -- --idle        # only the idle measurement
//! cargo run --release --features connectors --example bench -- --kafka       # only the Kafka-to-Kafka row
//! cargo run --release --features connectors --example bench -- --push        # only the pushed rows
//! cargo run --release --features connectors --example bench -- --cdc         # only the CDC row
//! cargo run --release --features connectors --example bench -- --only 1000:10:200000,1000:10:100000:100000 --partitions 1
//! ```
//!
//! `--only BATCH:TOKENS:RECORDS[:KEYS],…` runs just those table rows (no
//! soak); `--partitions N` and `--key-groups N` change the server's
//! partitions and the pipelines' key groups; `--server-env KEY=VALUE`
//! (repeatable) overrides a server setting.

mod cdc;
mod graphs;
mod idle;
mod instrument;
mod kafka;
mod peers;
mod probe;
mod push;
mod soak;
mod tables;
mod watermarks;
mod windows;

use std::path::PathBuf;

use instrument::{Clock, TimedFileSink, WordCount};
use stream_runner::{LocalServer, LocalServerOptions, RESTATE_VERSION};
use stream_runtime::keyed::Emit;
use stream_runtime::restate::IngressClient;
use stream_runtime::source::DEFAULT_VOCABULARY;
use stream_runtime::{Endpoint, IntoPipeline, Pipeline, ServiceNames, Source, Status};
use stream_support::keys::{mix, zipf_rank};

type Error = Box<dyn std::error::Error>;

/// With `--features connectors,mimalloc`, the endpoint allocates with mimalloc instead
/// of glibc's malloc: what the allocator costs, measured (not the default).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Word-count throughput, latency and footprint tables, then a soak.
#[derive(clap::Parser)]
pub struct Args {
    /// Smaller tables and a 1-minute soak
    #[arg(long)]
    quick: bool,
    /// Only these table rows, no soak: BATCH:TOKENS:RECORDS[:KEYS],...
    #[arg(long, value_name = "ROWS", value_delimiter = ',', value_parser = tables::parse_row)]
    only: Option<Vec<tables::Config>>,
    /// Only the soak, for this many seconds
    #[arg(long = "soak", value_name = "SECONDS")]
    soak_seconds: Option<u64>,
    /// Only the windowed rows
    #[arg(long)]
    windows: bool,
    /// Only the graph rows: two keyed stages, and an interval join
    #[arg(long)]
    graphs: bool,
    /// With --graphs, only these rows (topn, join, branch, rekey, enrich)
    #[arg(long, value_delimiter = ',', requires = "graphs")]
    graphs_only: Vec<String>,
    /// Only the idle measurement: server CPU with tokens waiting on a source
    /// with no data
    #[arg(long)]
    idle: bool,
    /// Only the Kafka-to-Kafka row (a broker is started for it)
    #[arg(long)]
    kafka: bool,
    /// Only the pushed rows: records sent over HTTP by producers
    #[arg(long)]
    push: bool,
    /// Only the CDC row: changes from a PostgreSQL table (one is started)
    #[arg(long)]
    cdc: bool,
    /// The word count beside Kafka Streams and Flink on one broker
    /// (`just bench-peers`; the peers are built with Maven on first use)
    #[arg(long)]
    peers: bool,
    /// With --peers, only these jobs (streams, flink, ours1000, ours20000,
    /// ours1000latest, ours20000latest)
    /// and series (words, zipf), to look at one again; the full table
    /// comes from a run of all of them
    #[arg(long, value_delimiter = ',', requires = "peers")]
    peers_only: Vec<String>,
    /// The server's partitions (a new data dir's setting)
    #[arg(long)]
    partitions: Option<u32>,
    /// The pipelines' key groups
    #[arg(long)]
    key_groups: Option<u32>,
    /// Overrides a server setting (repeatable)
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    server_env: Vec<(String, String)>,
    /// What the word count's reduce emits in the tables: `every` running
    /// count, or each word's `latest` once per batch
    #[arg(long, default_value = "every", value_parser = emit_mode)]
    emit: Emit,
    /// Sends every record to its key group, with `--emit latest`, instead
    /// of one partial per word per round (the combiner's before and after)
    #[arg(long)]
    no_combine: bool,
    /// Reads every key's state from the server, instead of what the
    /// endpoint saw stored (the read cache's before and after)
    #[arg(long)]
    no_state_cache: bool,
    /// Writes each changed key's state on its own, instead of a group
    /// call's changes as one entry folded later (the deltas' before and
    /// after)
    #[arg(long)]
    no_state_deltas: bool,
    /// Sends records between stages as JSON instead of MessagePack (the
    /// binary encoding's before and after)
    #[arg(long)]
    no_binary_records: bool,
}

impl Args {
    /// How our word counts run.
    pub fn levers(&self) -> Levers {
        Levers {
            emit: self.emit,
            combine: !self.no_combine,
            state_cache: !self.no_state_cache,
            state_deltas: !self.no_state_deltas,
            binary_records: !self.no_binary_records,
        }
    }
}

/// What our word count's reduce emits, whether it folds a round's records
/// per word before the shuffle, and whether key groups use the read cache.
#[derive(Debug, Clone, Copy)]
pub struct Levers {
    pub emit: Emit,
    pub combine: bool,
    pub state_cache: bool,
    pub state_deltas: bool,
    pub binary_records: bool,
}

/// `every` or `latest`.
fn emit_mode(mode: &str) -> Result<Emit, String> {
    match mode {
        "every" => Ok(Emit::EveryUpdate),
        "latest" => Ok(Emit::LatestPerBatch),
        other => Err(format!("{other}: expected every or latest")),
    }
}

/// `KEY=VALUE`.
fn key_value(pair: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{pair}: expected KEY=VALUE"))
}

/// The key of sequence number `n`: a word of the seed's vocabulary, or one
/// of `keys` users, Zipf-skewed (weight 1/rank).
pub fn key(n: u64, keys: Option<u64>) -> String {
    match keys {
        None => DEFAULT_VOCABULARY[(mix(n) % DEFAULT_VOCABULARY.len() as u64) as usize].to_owned(),
        Some(keys) => format!("user{}", zipf_rank(n, keys)),
    }
}

/// The bench's word count over `source`, written to `sink`, reducing as
/// `reduce` says.
pub fn word_count(
    name: &str,
    batch: u32,
    key_groups: Option<u32>,
    keys: Option<u64>,
    reduce: Levers,
    source: impl Source<Item = u64>,
    sink: TimedFileSink,
) -> impl IntoPipeline {
    let mut pipeline = Pipeline::named(name)
        .batch_size(batch)
        .combine_before_shuffle(reduce.combine)
        .state_read_cache(reduce.state_cache)
        .state_deltas(reduce.state_deltas)
        .binary_records(reduce.binary_records);
    if let Some(groups) = key_groups {
        pipeline = pipeline.key_groups(groups);
    }
    pipeline
        .source(source)
        .map(move |n| WordCount {
            word: key(n, keys),
            count: 1,
            seq: n,
        })
        .key_by(|wc| wc.word.clone())
        .reduce_emitting(
            |a, b| WordCount {
                count: a.count + b.count,
                seq: b.seq,
                ..a
            },
            reduce.emit,
        )
        .sink(sink)
}

/// A fresh server in a scratch dir, serving one endpoint from this process.
pub struct Bench {
    pub server: LocalServer,
    pub server_pid: u32,
    pub ingress: IngressClient,
    pub scratch: PathBuf,
    pub data_dir: PathBuf,
    /// The data dir's size once the server is up and the endpoint registered.
    baseline_bytes: u64,
}

impl Bench {
    /// A scratch dir for the files a part writes (its sink output).
    pub fn scratch(part: &str) -> Result<PathBuf, Error> {
        let scratch =
            std::env::temp_dir().join(format!("stream-bench-{}-{part}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch)?;
        Ok(scratch)
    }

    /// Starts a server in `scratch`, serves `endpoint` and registers it.
    pub async fn start(args: &Args, scratch: PathBuf, endpoint: Endpoint) -> Result<Self, Error> {
        let data_dir = scratch.join("restate");
        let mut options = LocalServerOptions::new(&data_dir).ports(
            probe::free_port(),
            probe::free_port(),
            probe::free_port(),
        );
        if args.partitions.is_some() {
            options.partitions = args.partitions;
        }
        options.env.extend(args.server_env.iter().cloned());
        println!(
            "restate-server {RESTATE_VERSION} on {} cores; server settings:",
            std::thread::available_parallelism()?.get()
        );
        for (key, value) in options
            .environment()
            .iter()
            .filter(|(k, _)| !k.contains("ADDRESS"))
        {
            println!("  {key}={value}");
        }
        let server = LocalServer::start(options).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint_uri = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        tokio::spawn(endpoint.serve_on(listener, std::future::pending::<()>()));
        server.admin().register(&endpoint_uri).await?;
        Ok(Self {
            server_pid: server.pid().unwrap_or(0),
            ingress: server.ingress(),
            server,
            scratch,
            baseline_bytes: probe::dir_bytes(&data_dir),
            data_dir,
        })
    }

    /// How much the data dir has grown since the server came up: what the
    /// records cost on disk, without the server's fixed files.
    pub fn disk_growth(&self) -> u64 {
        probe::dir_bytes(&self.data_dir).saturating_sub(self.baseline_bytes)
    }

    /// Adds `tokens` to a bounded pipeline and waits until it has finished:
    /// its last status, the seconds from `addTokens` to `finished`, and the
    /// server's and the endpoint's CPU meanwhile (% of one core).
    ///
    /// The run ends at the output file's last write (its modification
    /// time), not when the status says it finished: the status, 5–6
    /// invocations, is asked only every 250 ms, so that it takes little of
    /// the server's time from the run.
    pub async fn run_to_finish(
        &self,
        names: &ServiceNames,
        tokens: u64,
        output: &std::path::Path,
    ) -> Result<(Status, f64, (f64, f64)), Error> {
        let mut cpu = probe::CpuMeter::start(self.server_pid);
        let started = std::time::SystemTime::now();
        self.ingress.add_tokens(names, tokens).await?;
        let status = loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let status = self.ingress.status(names).await?;
            if status.finished {
                break status;
            }
        };
        let done = std::fs::metadata(output).and_then(|m| m.modified());
        let seconds = done
            .ok()
            .and_then(|done| done.duration_since(started).ok())
            .or_else(|| started.elapsed().ok())
            .unwrap_or_default()
            .as_secs_f64();
        Ok((status, seconds.max(1e-9), cpu.lap()))
    }

    /// Waits until the ingress answers for a freshly registered pipeline.
    pub async fn ready(&self, names: &ServiceNames) {
        for _ in 0..50 {
            if self.ingress.status(names).await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.server.stop(std::time::Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = <Args as clap::Parser>::parse();
    let soak_seconds = match (&args.only, args.soak_seconds, args.quick) {
        (_, Some(seconds), _) => seconds,
        (Some(_), None, _) => 0,
        (None, None, true) => 60,
        (None, None, false) => 600,
    };
    if args.soak_seconds.is_some() {
        return soak::run(&args, soak_seconds, &Clock::new()).await;
    }
    if args.idle {
        return idle::run(&args).await;
    }
    if args.kafka {
        return kafka::run(&args, args.quick).await;
    }
    if args.push {
        return push::run(&args, args.quick).await;
    }
    if args.cdc {
        return cdc::run(&args, args.quick).await;
    }
    if args.peers {
        return peers::run(&args).await;
    }
    let watermarks = watermarks::WatermarkLog::install()?;
    if args.windows {
        return windows::run(&args, &watermarks).await;
    }
    if args.graphs {
        return graphs::run(&args).await;
    }
    let configs = args
        .only
        .clone()
        .unwrap_or_else(|| tables::configs(args.quick));
    tables::run(&args, &configs, &Clock::new()).await?;
    if args.only.is_none() {
        windows::run(&args, &watermarks).await?;
        graphs::run(&args).await?;
        idle::run(&args).await?;
        kafka::run(&args, args.quick).await?;
        push::run(&args, args.quick).await?;
        cdc::run(&args, args.quick).await?;
    }
    if soak_seconds > 0 {
        // A fresh process, so that the soak's RSS is its own and not what
        // the tables left in the allocator.
        println!();
        let passed_on = std::env::args().skip(1).filter(|a| a != "--quick");
        let soak = std::process::Command::new(std::env::current_exe()?)
            .args(passed_on)
            .args(["--soak", &soak_seconds.to_string()])
            .status()?;
        if !soak.success() {
            return Err(format!("the soak failed: {soak}").into());
        }
    }
    Ok(())
}
