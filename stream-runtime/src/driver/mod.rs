//! A test driver for a pipeline: its own stages run in this process, with
//! no server, under the rules the guide documents (Kafka Streams'
//! `TopologyTestDriver`, Flink's operator test harnesses). The same model
//! is what this crate's tests hold every shape against.
//!
//! Give the pipeline its input as its source (an
//! [`InMemorySource`](crate::source::InMemorySource)) and read its output from its
//! sink (a [`CollectSink`](crate::sink::CollectSink)); the driver reads the
//! source record by record, moves the watermark after each, fires what it
//! reaches, and writes the sink.
//!
//! ```
//! use stream_runtime::driver::TestDriver;
//! use stream_runtime::window::{tumbling, Windowed};
//! use stream_runtime::time::Watermarks;
//! use stream_runtime::{CollectSink, InMemorySource, Pipeline};
//! use std::time::Duration;
//!
//! let counts = CollectSink::<Windowed<char, u64>>::new();
//! let pipeline = Pipeline::named("Clicks")
//!     .source(InMemorySource::new(vec![('a', 100), ('b', 900), ('a', 1_500), ('a', 400)]))
//!     .event_time(|r| r.1, Watermarks::max_delay(Duration::ZERO))
//!     .key_by(|r| r.0)
//!     .window(tumbling(Duration::from_secs(1)))
//!     .aggregate(0u64, |n, _r| *n += 1)
//!     .sink(counts.clone());
//!
//! let mut driver = TestDriver::new(pipeline);
//! let run = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! run.block_on(async {
//!     // Three records: `a` at 1.5 s moves the watermark to 1,499, which
//!     // closes [0, 1s).
//!     driver.read(3).await.unwrap();
//!     assert_eq!(counts.records().len(), 2);
//!     // `a` at 400 ms is behind the watermark: late.
//!     driver.run_to_end().await.unwrap();
//! });
//! assert_eq!(driver.late_records().len(), 1);
//! let mut got: Vec<_> = counts.records().into_iter().map(|w| (w.key, w.start, w.value)).collect();
//! got.sort();
//! assert_eq!(got, [('a', 0, 1), ('a', 1_000, 1), ('b', 0, 1)]);
//! ```

use std::sync::Arc;

use crate::complete::IntoPipeline;
use crate::lookup::{Answered, Call};
use crate::model::Drive;
pub use crate::model::DriverError;
use crate::protocol::DeadLetter;
use crate::time::Millis;

/// Runs a pipeline's own stages in this process, record by record, with no
/// server (see the [module](self)): feed it the source, move the watermark
/// or the wall clock, and read the sink.
///
/// The rules it follows are the guide's: per-record watermarks (each
/// split's largest stamped time less the allowed delay, the least over the
/// splits), windows and their lateness, timers, side outputs, chained
/// stages, joins. A server gives the same results whenever no record is
/// behind the watermark; where one is, which records are late depends on
/// how the server's tokens batched them, and the driver shows the answer
/// of a batch of one record.
pub struct TestDriver {
    model: Box<dyn Drive>,
}

impl TestDriver {
    /// A driver for `pipeline`, which it runs from the beginning of its
    /// source, with empty state, at wall-clock time 0.
    pub fn new(pipeline: impl IntoPipeline) -> Self {
        Self {
            model: pipeline.into_pipeline().into_model(),
        }
    }

    /// Reads up to `records` records of the source (its splits in turn,
    /// one record each), each through the whole pipeline; answers how
    /// many it read (fewer once no split has more).
    pub async fn read(&mut self, records: usize) -> Result<usize, DriverError> {
        self.model.read(records).await
    }

    /// Reads the whole source; if it ended (a bounded source), the end of
    /// input moves the watermark to the end of time, which fires every
    /// event-time window and timer. Answers the records read.
    pub async fn run_to_end(&mut self) -> Result<usize, DriverError> {
        let read = self.model.read(usize::MAX).await?;
        if self.model.ended() {
            self.model.advance_watermark(Millis::MAX).await?;
        }
        Ok(read)
    }

    /// Moves the watermark to `to` (never back), as if every split had
    /// reached it, and fires the event-time windows and timers it reaches.
    pub async fn advance_watermark(&mut self, to: Millis) -> Result<(), DriverError> {
        self.model.advance_watermark(to).await
    }

    /// Moves the wall clock to `now` (milliseconds) and fires the
    /// processing-time windows and timers it completes. The clock starts at
    /// 0 and never goes back.
    pub async fn advance_clock(&mut self, now: Millis) -> Result<(), DriverError> {
        self.model.advance_clock(now).await
    }

    /// Answers the lookups of the pipeline's [`enrich`](crate::KeyedStream::enrich)
    /// stages, in place of the services and endpoints they call: `answer`
    /// gets each call (its target and request) and gives the answer's
    /// JSON, or why the call failed (its record then goes to the
    /// dead-letter output). Without it, every lookup fails.
    ///
    /// ```
    /// use stream_runtime::driver::TestDriver;
    /// use stream_runtime::lookup::{Call, Lookup};
    /// use stream_runtime::{CollectSink, InMemorySource, Pipeline};
    ///
    /// let squares = CollectSink::new();
    /// let pipeline = Pipeline::named("Squares")
    ///     .source(InMemorySource::new(vec![2u64, 3]))
    ///     .key_by(|n| *n)
    ///     .enrich(|n| Lookup::<u64>::service("Math", "square", n))
    ///     .sink(squares.clone());
    ///
    /// let mut driver = TestDriver::new(pipeline);
    /// driver.answer_lookups(|call: &Call| {
    ///     let n = call.body.as_ref().map_err(|e| e.clone())?.as_u64().unwrap_or(0);
    ///     Ok(serde_json::json!(n * n))
    /// });
    /// let run = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// run.block_on(driver.run_to_end()).unwrap();
    /// assert_eq!(squares.records(), [(2, 4), (3, 9)]);
    /// ```
    pub fn answer_lookups(
        &mut self,
        answer: impl Fn(&Call) -> Answered + Send + Sync + 'static,
    ) -> &mut Self {
        self.model.answer_lookups(Arc::new(answer));
        self
    }

    /// The watermark (`None` before there is one, or without event time).
    pub fn watermark(&self) -> Option<Millis> {
        self.model.report().watermark
    }

    /// The records too late for their windows (or an interval join), as a
    /// server's late-data output keeps them (`status.late_records`).
    pub fn late_records(&self) -> Vec<serde_json::Value> {
        self.model.report().late
    }

    /// The dead letters: records, or timers, whose functions failed.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.model.report().dead_letters
    }

    /// Source records read.
    pub fn records_in(&self) -> u64 {
        self.model.report().records_in
    }

    /// Records written to the sink.
    pub fn records_out(&self) -> u64 {
        self.model.report().records_out
    }

    /// Event-time windows and timers the key groups have yet to fire (a
    /// server's `status.pending_timers`).
    pub fn pending_timers(&self) -> u64 {
        self.model.report().pending_timers
    }
}

impl std::fmt::Debug for TestDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDriver")
            .field("report", &self.model.report())
            .finish()
    }
}
