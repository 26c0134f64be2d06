//! The typed pipeline API. `pipeline!` expands to calls on these types.

mod branch;
mod join;
mod keyed_stream;
mod origin;
mod stream;
mod windowed_stream;

pub use branch::{BranchEnd, BranchStream, Tapped};
#[doc(hidden)]
pub use join::join;
pub use join::{JoinInput, Joined, Side};
pub use keyed_stream::{KeyedOutput, KeyedStream};
pub use origin::{Complete, Origin, Upstream};
pub use stream::Stream;
pub use windowed_stream::WindowedStream;

use crate::config::PipelineConfig;
use crate::keyed::{KeyGroups, Unkeyed};
use crate::operator::Identity;
use crate::source::Source;

/// The start of a pipeline: its name and settings, before the source.
///
/// ```
/// use stream_runtime::{CollectSink, InMemorySource, Pipeline};
///
/// let counts = CollectSink::new();
/// let pipeline = Pipeline::named("WordCount")
///     .source(InMemorySource::new(["to", "be", "or", "not", "to", "be"]))
///     .map(|word| (word.to_string(), 1u64))
///     .key_by(|(word, _)| word.clone())
///     .reduce(|(word, a), (_, b)| (word, a + b))
///     .sink(counts.clone());
/// # let _ = pipeline;
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    name: String,
    config: PipelineConfig,
}

impl Pipeline {
    /// A pipeline called `name`. The name is durable: the pipeline's Restate
    /// services are named after it (see [`ServiceNames`](crate::ServiceNames)).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            config: PipelineConfig::default(),
        }
    }

    /// The most records per token per round (at least 1); see
    /// [`PipelineConfig::batch_size`].
    pub fn batch_size(mut self, records: u32) -> Self {
        self.config.batch_size = records.max(1);
        self
    }

    /// The number of key groups (at least 1). Durable: see [`KeyGroups`].
    pub fn key_groups(mut self, groups: u32) -> Self {
        self.config.key_groups = KeyGroups::new(groups);
        self
    }

    /// Attempts per failing record or sink write before the dead-letter
    /// output (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.config.max_attempts = attempts.max(1);
        self
    }

    /// The most bytes of records one call carries (at least 1 KiB); see
    /// [`PipelineConfig::max_call_bytes`].
    pub fn max_call_bytes(mut self, bytes: usize) -> Self {
        self.config.max_call_bytes = bytes.max(1 << 10);
        self
    }

    /// Whether records are folded per key before the shuffle, where a
    /// keyed stage can; see [`PipelineConfig::combine_before_shuffle`].
    pub fn combine_before_shuffle(mut self, combine: bool) -> Self {
        self.config.combine_before_shuffle = combine;
        self
    }

    /// Whether key groups read the state entries this process has seen
    /// from memory; see [`PipelineConfig::state_read_cache`].
    pub fn state_read_cache(mut self, cache: bool) -> Self {
        self.config.state_read_cache = cache;
        self
    }

    /// Whether key groups write a call's changes as one entry, folded
    /// later; see [`PipelineConfig::state_deltas`].
    pub fn state_deltas(mut self, deltas: bool) -> Self {
        self.config.state_deltas = deltas;
        self
    }

    /// Whether records cross between stages as MessagePack instead of
    /// JSON; see [`PipelineConfig::binary_records`].
    pub fn binary_records(mut self, binary: bool) -> Self {
        self.config.binary_records = binary;
        self
    }

    /// Reads records from `source`.
    pub fn source<S: Source>(self, source: S) -> Stream<S, Identity, Unkeyed, Identity> {
        Stream::new(Head {
            pipeline: self,
            source,
        })
    }
}

/// What every stage of the builder carries along: the pipeline's name and
/// settings, and its source.
pub(crate) struct Head<S> {
    pipeline: Pipeline,
    source: S,
}
