//! The three ways of running the word count: Kafka Streams and Flink (the
//! Maven projects beside this file, run as their own JVM), and this
//! project (an endpoint in this process on a restate-server of its own).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use stream_runner::process::spawn_logged;
use stream_runtime::kafka::KafkaSink;
use stream_runtime::keyed::Emit;
use stream_runtime::{Endpoint, PipelineConfig, ServiceNames};

use crate::kafka::{word_count, StampedCount};
use crate::{Args, Bench, Error, Levers};

/// A job of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Kafka Streams' documented word count, `exactly_once_v2`.
    KafkaStreams,
    /// Flink: Kafka source, keyBy, reduce, Kafka sink `EXACTLY_ONCE`.
    Flink,
    /// This project at `batch`: `KafkaSource` → `key_by` → `reduce` →
    /// `KafkaSink`, with 10 tokens, emitting as `emit` says.
    Ours { batch: u32, emit: Emit },
}

/// A job started on one input and output topic.
pub enum Running {
    /// A peer's JVM.
    Java(Child),
    /// Our endpoint (in this process) and its restate-server.
    Ours(Box<Bench>),
}

impl Job {
    /// Every job, in the order the bench runs them: ours last, with the
    /// old default batch (1000) and with the default, emitting every
    /// update (as Flink's `reduce`) and the latest per batch (as Kafka
    /// Streams' record cache).
    pub const ALL: [Job; 6] = [
        Job::KafkaStreams,
        Job::Flink,
        Job::Ours {
            batch: 1_000,
            emit: Emit::EveryUpdate,
        },
        Job::Ours {
            batch: PipelineConfig::DEFAULT_BATCH_SIZE,
            emit: Emit::EveryUpdate,
        },
        Job::Ours {
            batch: 1_000,
            emit: Emit::LatestPerBatch,
        },
        Job::Ours {
            batch: PipelineConfig::DEFAULT_BATCH_SIZE,
            emit: Emit::LatestPerBatch,
        },
    ];

    /// Our job that a peer is compared with, at `batch`: the one emitting
    /// as the peer does.
    pub fn ours_like(self, batch: u32) -> Option<Job> {
        let emit = match self {
            Job::KafkaStreams => Emit::LatestPerBatch,
            Job::Flink => Emit::EveryUpdate,
            Job::Ours { .. } => return None,
        };
        Some(Job::Ours { batch, emit })
    }

    /// Whether every input record gives one output (each running count),
    /// so that an output missing in between is a lost update.
    pub fn emits_every_update(self) -> bool {
        match self {
            Job::KafkaStreams => false,
            Job::Flink => true,
            Job::Ours { emit, .. } => emit == Emit::EveryUpdate,
        }
    }

    /// The row's name.
    pub fn label(self) -> String {
        match self {
            Job::KafkaStreams => "Kafka Streams 4.1.1".to_owned(),
            Job::Flink => "Flink 2.0.1".to_owned(),
            Job::Ours {
                batch,
                emit: Emit::EveryUpdate,
            } => format!("stream-runtime, batch {batch}, every update"),
            Job::Ours {
                batch,
                emit: Emit::LatestPerBatch,
            } => format!("stream-runtime, batch {batch}, latest per batch"),
        }
    }

    /// A short name for topics and ids.
    pub fn tag(self) -> String {
        match self {
            Job::KafkaStreams => "streams".to_owned(),
            Job::Flink => "flink".to_owned(),
            Job::Ours {
                batch,
                emit: Emit::EveryUpdate,
            } => format!("ours{batch}"),
            Job::Ours {
                batch,
                emit: Emit::LatestPerBatch,
            } => format!("ours{batch}latest"),
        }
    }

    /// The peer's Maven project, if it is one.
    fn project(self) -> Option<PathBuf> {
        let name = match self {
            Job::KafkaStreams => "kafka-streams",
            Job::Flink => "flink",
            Job::Ours { .. } => return None,
        };
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/bench/peers")
                .join(name),
        )
    }

    /// Builds the peer's Maven project, unless its jar is there and newer
    /// than its sources (offline after the first fetch).
    pub fn build(self) -> Result<(), Error> {
        let Some(project) = self.project() else {
            return Ok(());
        };
        let built = jar(&project).and_then(|jar| modified(&jar));
        if project.join("target/lib").is_dir() && built > newest(&project) {
            return Ok(());
        }
        println!(
            "building {} (Maven; dependencies fetched once)",
            project.display()
        );
        let status = Command::new("mvn")
            .args(["-q", "-B", "-f"])
            .arg(project.join("pom.xml"))
            .args(["package", "dependency:copy-dependencies"])
            .arg("-DoutputDirectory=target/lib")
            .status()?;
        if !status.success() {
            return Err(format!("building {}: {status}", project.display()).into());
        }
        Ok(())
    }

    /// Starts the job reading `input` and writing `output`.
    pub async fn start(
        self,
        args: &Args,
        bootstrap: &str,
        input: &str,
        output: &str,
        scratch: &Path,
    ) -> Result<Running, Error> {
        let Some(project) = self.project() else {
            return self
                .start_ours(args, bootstrap, input, output, scratch)
                .await;
        };
        let jar = jar(&project).ok_or("the peer's jar is missing")?;
        let classpath = format!("{}:{}/target/lib/*", jar.display(), project.display());
        let mut command = Command::new("java");
        command.args([
            "-cp",
            &classpath,
            "peers.WordCount",
            bootstrap,
            input,
            output,
        ]);
        match self {
            Job::KafkaStreams => {
                let state = scratch.join(format!("streams-state-{output}"));
                command.arg(&state).arg(output);
            }
            _ => {
                // Checkpoints on disk, so that Flink's exactly-once would
                // survive a JVM kill, as ours and Kafka Streams' do.
                let checkpoints = scratch.join(format!("flink-checkpoints-{output}"));
                command.arg(output).arg(&checkpoints);
            }
        }
        let log = scratch.join(format!("{}.log", self.tag()));
        Ok(Running::Java(spawn_logged(&mut command, &log)?))
    }

    async fn start_ours(
        self,
        args: &Args,
        bootstrap: &str,
        input: &str,
        output: &str,
        scratch: &Path,
    ) -> Result<Running, Error> {
        let Job::Ours { batch, emit } = self else {
            return Err("not ours".into());
        };
        // The input's produce time becomes the output's Kafka timestamp, as
        // the peers carry it over.
        let sink = KafkaSink::<StampedCount>::json(bootstrap, output)
            .await?
            .timestamp(|c| c.produced);
        let name = format!("Peers{}", output.replace(['-', '_'], ""));
        let reduce = Levers {
            emit,
            ..args.levers()
        };
        let pipeline = word_count(&name, batch, reduce, bootstrap, input, sink).await?;
        let bench = Bench::start(
            args,
            scratch.join("restate"),
            Endpoint::new().pipeline(pipeline),
        )
        .await?;
        let names = ServiceNames::for_pipeline(&name);
        bench.ready(&names).await;
        bench.ingress.add_tokens(&names, 10).await?;
        Ok(Running::Ours(Box::new(bench)))
    }
}

impl Running {
    /// The processes whose CPU and memory the job uses: the JVM, or the
    /// server and this process (the endpoint).
    pub fn pids(&self) -> Vec<u32> {
        match self {
            Running::Java(child) => vec![child.id()],
            Running::Ours(bench) => vec![bench.server_pid, std::process::id()],
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Running::Java(child) = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// When `path` was last modified.
fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

/// The newest of the project's `pom.xml` and the files under `src`.
fn newest(project: &Path) -> Option<std::time::SystemTime> {
    let mut pending = vec![project.join("src")];
    let mut newest = modified(&project.join("pom.xml"));
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match path.is_dir() {
                true => pending.push(path),
                false => newest = newest.max(modified(&path)),
            }
        }
    }
    newest
}

/// The project's built jar.
fn jar(project: &Path) -> Option<PathBuf> {
    std::fs::read_dir(project.join("target"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jar"))
}
