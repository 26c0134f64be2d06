//! A complete pipeline's stages, with every record type fixed, as the
//! Restate handlers run them.

use std::future::Future;
use std::io;

use crate::config::PipelineConfig;
use crate::guard::{guarded, RecordFailed};
use crate::keyed::{ByKey, Due, GroupState, KeyedStage, Scope, TimeDomain};
use crate::operator::Operator;
use crate::sink::Sink;
use crate::source::Source;
use crate::time::Millis;
use crate::Record;

/// Everything the stage handlers need to know about one pipeline, with every
/// record type fixed at compile time.
///
/// Implemented by [`Stages`]; the handlers are generic over this trait and
/// monomorphized per pipeline.
pub(crate) trait Dataflow: Send + Sync + 'static {
    /// What the source reads.
    type Input: Send;
    /// What reaches the keyed stage (after the operators before `key_by`).
    type Mid: Record;
    /// The state kept per key.
    type State: Record;
    /// What reaches the sink.
    type Out: Record;

    /// The pipeline's name, from which its service names derive.
    fn name(&self) -> &str;
    /// Its settings.
    fn config(&self) -> &PipelineConfig;
    /// The source's number of splits.
    fn splits(&self) -> u32;
    /// Whether the source ends.
    fn is_bounded(&self) -> bool;
    /// Reads a range of a split (deterministic, see [`Source`]).
    fn read(
        &self,
        split: u32,
        position: u64,
        max: usize,
    ) -> impl Future<Output = io::Result<Vec<Self::Input>>> + Send;
    /// How many records a read would return (see [`Source::available`]).
    fn available(
        &self,
        split: u32,
        position: u64,
        max: usize,
    ) -> impl Future<Output = io::Result<usize>> + Send;
    /// Where a split starts (see [`Source::start`]).
    fn start(&self, split: u32) -> impl Future<Output = io::Result<u64>> + Send;
    /// Whether the source's `available` must be journaled (see
    /// [`Source::is_remote`]).
    fn is_remote(&self) -> bool;
    /// Applies the operators before `key_by` to one source record.
    fn before_key(&self, record: Self::Input, out: &mut Vec<Self::Mid>);
    /// Whether there is a keyed stage.
    fn is_keyed(&self) -> bool;
    /// The encoded key of a record.
    fn encode_key(&self, record: &Self::Mid) -> Result<String, serde_json::Error>;
    /// A record's event time, when the keyed stage runs on event time.
    fn event_time(&self, record: &Self::Mid) -> Option<Millis>;
    /// The clock the keyed stage's timers follow, if any.
    fn time_domain(&self) -> Option<TimeDomain>;
    /// The state entries a key group's batch needs.
    fn keyed_entries(&self, batch: &ByKey<Self::Mid>, scope: &Scope<'_>) -> Vec<String>;
    /// Applies the keyed stage, and the operators after it, to a key
    /// group's batch.
    fn apply_keyed(
        &self,
        state: &mut GroupState,
        batch: ByKey<Self::Mid>,
        scope: &mut Scope<'_>,
    ) -> Result<KeyedOutput<Self::Out>, RecordFailed>;
    /// Fires due timers, and applies the operators after the keyed stage to
    /// what they emit.
    fn fire(
        &self,
        state: &mut GroupState,
        due: Vec<Due>,
        scope: &mut Scope<'_>,
    ) -> Result<Vec<Self::Out>, String>;
    /// With no keyed stage, applies the operators after it to one record; a
    /// keyed pipeline gets the record back as `Err`.
    fn unkeyed(&self, record: Self::Mid, out: &mut Vec<Self::Out>) -> Result<(), Self::Mid>;
    /// The sink's number of partitions.
    fn sink_partitions(&self) -> u32;
    /// The sink partition a record of token `token`'s round goes to (see
    /// [`Sink::route`]).
    fn sink_route(&self, token: u64, record: &Self::Out) -> u32;
    /// `output` of token (or key group) `token`, by the sink partition each
    /// record routes to, in partition order, each in output order.
    fn by_sink_partition(
        &self,
        token: u64,
        output: Vec<Self::Out>,
    ) -> std::collections::BTreeMap<u32, Vec<Self::Out>> {
        let mut partitions = std::collections::BTreeMap::<u32, Vec<Self::Out>>::new();
        for record in output {
            let partition = self.sink_route(token, &record);
            partitions.entry(partition).or_default().push(record);
        }
        partitions
    }
    /// Writes a batch to a sink partition (see [`Sink`]).
    fn write(
        &self,
        partition: u32,
        committed: u64,
        records: &[Self::Out],
    ) -> impl Future<Output = io::Result<u64>> + Send;
}

/// What a key group's batch produced: output, and records too late for
/// their windows (as JSON, for the late-data output).
pub(crate) struct KeyedOutput<O> {
    pub out: Vec<O>,
    pub late: Vec<serde_json::Value>,
}

/// A whole pipeline: source, operators, keyed stage, operators, sink.
///
/// Built by the typed API's `sink`, which checks every bound once and hides
/// the type in a [`CompletePipeline`](crate::CompletePipeline).
pub(crate) struct Stages<S, Pre, K, Post, Sk> {
    pub(crate) name: String,
    pub(crate) config: PipelineConfig,
    pub(crate) source: S,
    pub(crate) pre: Pre,
    pub(crate) keyed: K,
    pub(crate) post: Post,
    pub(crate) sink: Sk,
}

impl<S, Pre, K, Post, Sk> Dataflow for Stages<S, Pre, K, Post, Sk>
where
    S: Source,
    Pre: Operator<S::Item>,
    Pre::Out: Record,
    K: KeyedStage<Pre::Out>,
    K::State: Record,
    Post: Operator<K::Out>,
    Post::Out: Record,
    Sk: Sink<Post::Out>,
{
    type Input = S::Item;
    type Mid = Pre::Out;
    type State = K::State;
    type Out = Post::Out;

    fn name(&self) -> &str {
        &self.name
    }

    fn config(&self) -> &PipelineConfig {
        &self.config
    }

    fn splits(&self) -> u32 {
        self.source.splits().max(1)
    }

    fn is_bounded(&self) -> bool {
        self.source.is_bounded()
    }

    fn read(
        &self,
        split: u32,
        position: u64,
        max: usize,
    ) -> impl Future<Output = io::Result<Vec<S::Item>>> + Send {
        self.source.read(split, position, max)
    }

    fn available(
        &self,
        split: u32,
        position: u64,
        max: usize,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        self.source.available(split, position, max)
    }

    fn start(&self, split: u32) -> impl Future<Output = io::Result<u64>> + Send {
        self.source.start(split)
    }

    fn is_remote(&self) -> bool {
        self.source.is_remote()
    }

    fn before_key(&self, record: S::Item, out: &mut Vec<Pre::Out>) {
        self.pre.apply(record, &mut |x| out.push(x));
    }

    fn is_keyed(&self) -> bool {
        self.keyed.is_keyed()
    }

    fn encode_key(&self, record: &Pre::Out) -> Result<String, serde_json::Error> {
        self.keyed.encode_key(record)
    }

    fn event_time(&self, record: &Pre::Out) -> Option<Millis> {
        self.keyed.event_time(record)
    }

    fn time_domain(&self) -> Option<TimeDomain> {
        self.keyed.domain()
    }

    fn keyed_entries(&self, batch: &ByKey<Pre::Out>, scope: &Scope<'_>) -> Vec<String> {
        self.keyed.entries(batch, scope)
    }

    fn apply_keyed(
        &self,
        state: &mut GroupState,
        batch: ByKey<Pre::Out>,
        scope: &mut Scope<'_>,
    ) -> Result<KeyedOutput<Post::Out>, RecordFailed> {
        let mut out = Vec::new();
        let mut late = Vec::new();
        self.keyed.apply(
            state,
            batch,
            scope,
            &mut |record| self.post.apply(record, &mut |x| out.push(x)),
            &mut |record| late.push(serde_json::to_value(&record).unwrap_or_default()),
        )?;
        Ok(KeyedOutput { out, late })
    }

    fn fire(
        &self,
        state: &mut GroupState,
        due: Vec<Due>,
        scope: &mut Scope<'_>,
    ) -> Result<Vec<Post::Out>, String> {
        let mut out = Vec::new();
        guarded(|| {
            self.keyed.fire(state, due, scope, &mut |record| {
                self.post.apply(record, &mut |x| out.push(x))
            })
        })?;
        Ok(out)
    }

    fn unkeyed(&self, record: Pre::Out, out: &mut Vec<Post::Out>) -> Result<(), Pre::Out> {
        let record = self.keyed.pass_through(record)?;
        self.post.apply(record, &mut |x| out.push(x));
        Ok(())
    }

    fn sink_partitions(&self) -> u32 {
        self.sink.partitions().max(1)
    }

    fn sink_route(&self, token: u64, record: &Post::Out) -> u32 {
        self.sink.route(token, record) % self.sink_partitions()
    }

    fn write(
        &self,
        partition: u32,
        committed: u64,
        records: &[Post::Out],
    ) -> impl Future<Output = io::Result<u64>> + Send {
        self.sink.write(partition, committed, records)
    }
}
