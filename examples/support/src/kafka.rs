//! A real Apache Kafka broker for the tests, the bench, the chaos tool and
//! `just kafka`: single-node KRaft, from the jars `pom.xml` pins (copied
//! from Maven Central into `target/kafka/` on first use), on free ports
//! with a fresh log dir, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use stream_runner::process::spawn_logged;

/// The Kafka version `pom.xml` pins.
pub const KAFKA_VERSION: &str = "4.1.1";

/// Why a broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// `pom.xml` was not found above the current directory or the binary.
    #[error("pom.xml (which pins Kafka) not found above {0}")]
    NoPom(String),
    /// Maven could not fetch the jars.
    #[error("`mvn dependency:copy-dependencies` failed ({0}); is Maven Central reachable?")]
    Maven(String),
    /// The broker could not be run or did not listen in time.
    #[error("the Kafka broker did not start: {0}")]
    Start(String),
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A running broker; killed and its data removed when dropped.
pub struct KafkaBroker {
    child: Option<Child>,
    port: u16,
    classpath: String,
    properties: PathBuf,
    dir: PathBuf,
    keep_dir: bool,
}

/// `java` could not be run: say which program, and how to get it.
fn no_java(error: std::io::Error) -> BrokerError {
    BrokerError::Start(format!(
        "cannot run `java` ({error}); the broker needs Java 17 or later \
         (Debian: apt-get install openjdk-17-jre-headless)"
    ))
}

impl KafkaBroker {
    /// Starts a broker with its data in `dir` (created, and removed on drop
    /// unless [`keep`](Self::keep) is called), listening on `port` (0: a
    /// free one).
    pub async fn start(dir: impl Into<PathBuf>, port: u16) -> Result<Self, BrokerError> {
        let dir = dir.into();
        let lib = jars()?;
        let port = if port == 0 { crate::free_port()? } else { port };
        let controller = crate::free_port()?;
        let data = dir.join("data");
        std::fs::create_dir_all(&dir)?;
        let properties = dir.join("server.properties");
        std::fs::write(&properties, server_properties(port, controller, &data))?;
        let classpath = format!("{}/*", lib.display());
        let format = Command::new("java")
            .args(["-cp", &classpath, "kafka.tools.StorageTool", "format"])
            .args([
                "--ignore-formatted",
                "-t",
                "c3RyZWFtLXJ1bnRpbWUtdGVzdA",
                "-c",
            ])
            .arg(&properties)
            .output()
            .map_err(no_java)?;
        if !format.status.success() {
            let why = String::from_utf8_lossy(&format.stderr).into_owned();
            return Err(BrokerError::Start(format!("formatting the log dir: {why}")));
        }
        let mut broker = Self {
            child: None,
            port,
            classpath,
            properties,
            dir,
            keep_dir: false,
        };
        broker.spawn().await?;
        Ok(broker)
    }

    /// Runs the broker process and waits until it listens.
    async fn spawn(&mut self) -> Result<(), BrokerError> {
        let mut command = Command::new("java");
        command
            .args([
                "-Xms256m",
                "-Xmx512m",
                "-cp",
                &self.classpath,
                "kafka.Kafka",
            ])
            .arg(&self.properties);
        let log = self.dir.join("broker.log");
        self.child = Some(spawn_logged(&mut command, &log).map_err(no_java)?);
        self.wait_listening(&log).await
    }

    /// Starts the broker again after [`kill`](Self::kill), on the same
    /// ports and log dir: its topics and records are still there.
    pub async fn restart(&mut self) -> Result<(), BrokerError> {
        self.kill();
        self.spawn().await
    }

    /// `host:port` of the broker.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Keeps the data dir after the broker stops (to look at it).
    pub fn keep(&mut self) {
        self.keep_dir = true;
    }

    async fn wait_listening(&mut self, log: &Path) -> Result<(), BrokerError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                // The log goes with the scratch dir: say its end here.
                let tail = stream_runner::process::log_tail(log, 20);
                let why = format!("the end of {}:\n{tail}", log.display());
                return Err(BrokerError::Start(why));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the broker (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl KafkaBroker {
    /// The broker's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        self.kill();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn server_properties(port: u16, controller: u16, data: &Path) -> String {
    format!(
        "process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.voters=1@127.0.0.1:{controller}\n\
         listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=PLAINTEXT\n\
         listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
         log.dirs={}\n\
         num.partitions=1\n\
         auto.create.topics.enable=false\n\
         offsets.topic.replication.factor=1\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         group.initial.rebalance.delay.ms=0\n",
        data.display()
    )
}

/// The directory of the broker's jars, fetched with Maven on first use.
pub fn jars() -> Result<PathBuf, BrokerError> {
    let root = project_root()?;
    let lib = root
        .join("target/kafka")
        .join(format!("lib-{KAFKA_VERSION}"));
    let markers = [
        lib.join(format!("kafka_2.13-{KAFKA_VERSION}.jar")),
        lib.join(format!("kafka-tools-{KAFKA_VERSION}.jar")),
    ];
    let fetched = || markers.iter().all(|m| m.is_file());
    if fetched() {
        return Ok(lib);
    }
    eprintln!(
        "Kafka {KAFKA_VERSION} not found in {}: fetching its jars with Maven",
        lib.display()
    );
    let status = Command::new("mvn")
        .args(["-q", "-B", "-f"])
        .arg(root.join("pom.xml"))
        .arg("dependency:copy-dependencies")
        .arg(format!("-DoutputDirectory={}", lib.display()))
        .status()
        .map_err(|e| {
            BrokerError::Maven(format!(
                "cannot run `mvn` ({e}); install Maven (Debian: apt-get install maven)"
            ))
        })?;
    if !status.success() || !fetched() {
        return Err(BrokerError::Maven(status.to_string()));
    }
    Ok(lib)
}

/// The directory holding `pom.xml`: the current directory or the running
/// binary's, or one above them.
fn project_root() -> Result<PathBuf, BrokerError> {
    let mut starts = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    starts
        .iter()
        .flat_map(|start| start.ancestors())
        .find(|dir| dir.join("pom.xml").is_file() && dir.join("Cargo.toml").is_file())
        .map(Path::to_owned)
        .ok_or_else(|| BrokerError::NoPom(format!("{starts:?}")))
}

/// A client of the broker at `bootstrap`, for setting up and checking.
pub async fn client(bootstrap: &str) -> Result<rskafka::client::Client, String> {
    rskafka::client::ClientBuilder::new(vec![bootstrap.to_owned()])
        .build()
        .await
        .map_err(|e| e.to_string())
}

/// Creates `topic` with `partitions` partitions, and waits until the
/// broker's metadata lists it (creation answers before it does).
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<(), String> {
    let client = client(bootstrap).await?;
    client
        .controller_client()
        .map_err(|e| e.to_string())?
        .create_topic(topic, partitions, 1, 5_000)
        .await
        .map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let topics = client.list_topics().await.map_err(|e| e.to_string())?;
        let listed = topics
            .iter()
            .any(|t| t.name == topic && t.partitions.len() == partitions as usize);
        if listed {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("topic {topic} was created but never listed"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Produces `values` (no keys) to one partition of `topic`, in one batch,
/// stamped with the current time (so that retention keeps them).
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    values: Vec<Vec<u8>>,
) -> Result<(), String> {
    Producer::connect(bootstrap, topic)
        .await?
        .send(partition, values)
        .await
}

/// A producer to every partition of one topic, connected once.
pub struct Producer {
    partitions: Vec<rskafka::client::partition::PartitionClient>,
}

impl Producer {
    /// Connects to each partition of `topic`.
    pub async fn connect(bootstrap: &str, topic: &str) -> Result<Self, String> {
        Ok(Self {
            partitions: partitions(bootstrap, topic).await?,
        })
    }

    /// Produces `values` (no keys) to `partition`, in one batch, stamped
    /// with the current time.
    pub async fn send(&self, partition: i32, values: Vec<Vec<u8>>) -> Result<(), String> {
        use rskafka::client::partition::Compression;
        let client = usize::try_from(partition)
            .ok()
            .and_then(|p| self.partitions.get(p))
            .ok_or_else(|| format!("no partition {partition}"))?;
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let now = chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default();
        let records = values
            .into_iter()
            .map(|value| rskafka::record::Record {
                key: None,
                value: Some(value),
                headers: Default::default(),
                timestamp: now,
            })
            .collect();
        client
            .produce(records, Compression::NoCompression)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Deletes the records of one partition of `topic` before `offset`, as
/// retention would.
pub async fn delete_before(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<(), String> {
    use rskafka::client::partition::UnknownTopicHandling;
    client(bootstrap)
        .await?
        .partition_client(topic, partition, UnknownTopicHandling::Retry)
        .await
        .map_err(|e| e.to_string())?
        .delete_records(offset, 5_000)
        .await
        .map_err(|e| e.to_string())
}

/// Every value in every partition of `topic`, partition by partition, in
/// offset order.
pub async fn read_all(bootstrap: &str, topic: &str) -> Result<Vec<Vec<u8>>, String> {
    let records = read_stamped(bootstrap, topic).await?;
    Ok(records.into_iter().map(|(_, value)| value).collect())
}

/// Every record in every partition of `topic`, as its timestamp
/// (milliseconds) and value, partition by partition, in offset order.
pub async fn read_stamped(bootstrap: &str, topic: &str) -> Result<Vec<(i64, Vec<u8>)>, String> {
    use rskafka::client::partition::OffsetAt;
    let mut values = Vec::new();
    for partition in partitions(bootstrap, topic).await? {
        let end = partition
            .get_offset(OffsetAt::Latest)
            .await
            .map_err(|e| e.to_string())?;
        let mut next = partition
            .get_offset(OffsetAt::Earliest)
            .await
            .map_err(|e| e.to_string())?;
        while next < end {
            let (records, _) = partition
                .fetch_records(next, 1..(8 << 20), 0)
                .await
                .map_err(|e| e.to_string())?;
            if records.is_empty() {
                break;
            }
            for record in records {
                if record.offset >= next {
                    next = record.offset + 1;
                    if let Some(value) = record.record.value {
                        values.push((record.record.timestamp.timestamp_millis(), value));
                    }
                }
            }
        }
    }
    Ok(values)
}

/// A client for each partition of `topic`, in partition order.
async fn partitions(
    bootstrap: &str,
    topic: &str,
) -> Result<Vec<rskafka::client::partition::PartitionClient>, String> {
    use rskafka::client::partition::UnknownTopicHandling;
    let client = client(bootstrap).await?;
    let topics = client.list_topics().await.map_err(|e| e.to_string())?;
    let found = topics
        .iter()
        .find(|t| t.name == topic)
        .ok_or_else(|| format!("no topic {topic}"))?;
    let mut partitions = Vec::new();
    for partition in 0..found.partitions.len() as i32 {
        let partition = client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| e.to_string())?;
        partitions.push(partition);
    }
    Ok(partitions)
}
