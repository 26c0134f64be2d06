//! The outputs as a `read_committed` consumer sees them: the broker's own
//! console consumer (`--isolation-level read_committed`), so that records
//! of aborted or open transactions (Kafka Streams' and Flink's) are not
//! counted, read line by line as they arrive.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use stream_support::kafka::jars;

use crate::instrument::Histogram;
use crate::probe::this_thread_id;
use crate::Error;

/// What the consumer has seen so far.
pub struct Seen {
    /// Each word's largest count.
    pub largest: HashMap<String, u64>,
    /// Their sum: every input record is counted once it reaches `records`.
    pub total: u64,
    /// Each word's counts seen, a bit each, to find one seen twice. Outputs
    /// of one word may arrive out of order (a job's sink partition need not
    /// follow the key), so only a repeat is a duplicate. Bits keep this
    /// bookkeeping, which lives in the process that also serves our
    /// endpoint, to a few hundred KiB for millions of counts.
    counts: HashMap<String, Vec<u64>>,
    /// Counts seen twice for their word: duplicates.
    pub repeated: u64,
    /// Lines that are not a `{"word":..,"count":..}` record.
    pub malformed: u64,
    /// Outputs read.
    pub outputs: u64,
    /// When the first output arrived.
    pub first: Option<Instant>,
    /// From each output's Kafka timestamp (its input's produce time, carried
    /// over by every job) to its arrival here.
    pub delays: Histogram,
}

/// A running console consumer and what it has seen; killed when dropped.
pub struct Committed {
    child: Child,
    pub seen: Arc<Mutex<Seen>>,
    /// The thread that reads and checks the lines, in this process.
    reader: Arc<std::sync::atomic::AtomicU32>,
}

#[derive(Deserialize)]
struct Count {
    word: String,
    count: u64,
}

impl Committed {
    /// Starts reading `topic` from its beginning.
    pub fn start(bootstrap: &str, topic: &str) -> Result<Self, Error> {
        let classpath = format!("{}/*", jars()?.display());
        let mut child = Command::new("java")
            .args([
                "-cp",
                &classpath,
                "org.apache.kafka.tools.consumer.ConsoleConsumer",
            ])
            .args(["--bootstrap-server", bootstrap, "--topic", topic])
            .args(["--from-beginning", "--isolation-level", "read_committed"])
            .args(["--property", "print.timestamp=true"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("the consumer has no stdout")?;
        let seen = Arc::new(Mutex::new(Seen {
            largest: HashMap::new(),
            total: 0,
            counts: HashMap::new(),
            repeated: 0,
            malformed: 0,
            outputs: 0,
            first: None,
            delays: Histogram::new(),
        }));
        let shared = Arc::clone(&seen);
        let reader = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let tid = Arc::clone(&reader);
        std::thread::spawn(move || {
            let me = this_thread_id().unwrap_or(0);
            tid.store(me, std::sync::atomic::Ordering::Relaxed);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(mut seen) = shared.lock() else { break };
                seen.line(&line);
            }
        });
        Ok(Self {
            child,
            seen,
            reader,
        })
    }

    /// The checker's thread in this process (0 before it started), whose
    /// CPU is not the job's.
    pub fn reader_thread(&self) -> u32 {
        self.reader.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until `outputs` lines have been read, or `limit` passes: the
    /// final counts can be read before earlier ones of the same word that
    /// went to the other partition.
    pub async fn until_outputs(&self, outputs: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.seen.lock().map(|s| s.outputs).unwrap_or(0) >= outputs {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the counts add up to `records` (every input counted),
    /// or `limit` passes.
    pub async fn until_total(&self, records: u64, limit: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + limit;
        loop {
            let total = self.seen.lock().map(|s| s.total).unwrap_or(0);
            if total >= records {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{total} of {records} counted after {limit:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Seen {
    fn line(&mut self, line: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        // "CreateTime:1764000000000\t{...}"
        let Some((stamp, value)) = line.split_once('\t') else {
            self.malformed += 1;
            return;
        };
        let created = stamp
            .rsplit(':')
            .next()
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(now);
        let count = match serde_json::from_str::<Count>(value) {
            // No input is that large: a count past it is malformed.
            Ok(count) if count.count < 1 << 32 => count,
            _ => {
                self.malformed += 1;
                return;
            }
        };
        self.first.get_or_insert_with(Instant::now);
        self.outputs += 1;
        self.delays.record(Duration::from_millis(
            u64::try_from(now - created).unwrap_or(0),
        ));
        let bits = self.counts.entry(count.word.clone()).or_default();
        let (word, bit) = ((count.count / 64) as usize, count.count % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & (1 << bit) != 0 {
            self.repeated += 1;
        }
        bits[word] |= 1 << bit;
        let largest = self.largest.entry(count.word).or_insert(0);
        if count.count > *largest {
            self.total += count.count - *largest;
            *largest = count.count;
        }
    }
}

impl Drop for Committed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
