//! Sources: where records come from, read by durable position.

use std::future::Future;
use std::io;

/// The [`Source`] impl of a generator whose records are a pure function of
/// `(split, position)`: a type with fields `splits` and `limit`
/// (`Option<u64>`) and methods `records` and `count`, which answer `read`
/// and `available`.
macro_rules! generated_source {
    ($ty:ty, $item:ty) => {
        impl $crate::source::Source for $ty {
            type Item = $item;

            fn splits(&self) -> u32 {
                self.splits
            }

            async fn read(
                &self,
                split: u32,
                position: u64,
                max: usize,
            ) -> std::io::Result<Vec<$item>> {
                Ok(self.records(split, position, max))
            }

            async fn available(
                &self,
                split: u32,
                position: u64,
                max: usize,
            ) -> std::io::Result<usize> {
                Ok(self.count(split, position, max))
            }

            fn is_bounded(&self) -> bool {
                self.limit.is_some()
            }
        }
    };
}

mod connect;
mod ends_before;
mod gone;
mod in_memory;
mod pushed;
mod random_words;
mod sequence;
mod union;

pub use connect::{connect, Connect, Either, Lefts, Rights};
pub use ends_before::EndsBefore;
pub use gone::Gone;
pub use in_memory::InMemorySource;
pub use pushed::{Pulled, PushLimits, Pushed, DEFAULT_KEY_RETENTION, DEFAULT_PUSH_BOUND};
pub use random_words::{RandomWords, DEFAULT_VOCABULARY};
pub use sequence::Sequence;
pub use union::Union;

/// A replayable source of records, split into independently read parts.
///
/// A source is read by position, like a Kafka partition is read by offset.
/// The pipeline keeps each split's position in Restate state and leases
/// ranges of positions to tokens, so the source itself holds no progress.
///
/// # Contract
///
/// [`read`](Source::read) must be deterministic: the same `(split, position)`
/// always yields the same records. A retried or replayed invocation reads its
/// range again and must see exactly what the first attempt saw; this is what
/// makes the pipeline exactly-once without journaling every record.
///
/// Reads are `async`, for sources across the network; a source that
/// computes its records just writes `async fn read(..)`. An error fails the
/// token's round, which Restate retries (the lease is journaled, so the
/// retry reads the same range); an error that is a [`Gone`] says the
/// positions were deleted, and they go to the dead-letter output instead.
///
/// ```
/// use stream_runtime::Source;
///
/// /// The squares, endless.
/// struct Squares;
///
/// impl Source for Squares {
///     type Item = u64;
///
///     async fn read(&self, _split: u32, position: u64, max: usize) -> std::io::Result<Vec<u64>> {
///         Ok((position..position + max as u64).map(|n| n * n).collect())
///     }
///
///     async fn available(&self, _split: u32, _position: u64, max: usize) -> std::io::Result<usize> {
///         Ok(max)
///     }
///
///     fn is_bounded(&self) -> bool {
///         false
///     }
/// }
/// ```
pub trait Source: Send + Sync + 'static {
    /// The records this source produces. They are read where they are
    /// processed and never serialized, so they need not be a `Record`.
    type Item: Send + 'static;

    /// The number of splits. Each split has its own durable position, and
    /// tokens read different splits in parallel. Must never change for a
    /// pipeline that has state: it is part of the durable layout.
    fn splits(&self) -> u32 {
        1
    }

    /// Reads up to `max` records of `split`, starting at `position`.
    ///
    /// Returns fewer than `max` records only when the split has no more:
    /// a bounded source at its end, or an endless one with no more yet.
    fn read(
        &self,
        split: u32,
        position: u64,
        max: usize,
    ) -> impl Future<Output = io::Result<Vec<Self::Item>>> + Send;

    /// The position `item` was read at, for a source whose positions can
    /// hold no record (a Kafka offset of a transaction marker, or one
    /// compaction removed), so that [`read`](Source::read) skips them.
    /// `None` (the default) for a source whose records fill their
    /// positions, the first record read at the position asked for and each
    /// next one at the next position. Dead letters name a record by its
    /// position, and a replay reads it there again.
    fn position_of(&self, item: &Self::Item) -> Option<u64> {
        let _ = item;
        None
    }

    /// How many records [`read`](Source::read) would return, without
    /// producing them: the split stage leases ranges with it. For an
    /// endless source, 0 means no data right now: tokens then wait with a
    /// durable delayed call, backing off, and ask again; a split that stays
    /// so for the watermarks' idle timeout stops holding the watermark back.
    /// Override it when counting is cheaper than reading. A source that can
    /// tell it ends before `position` (so it is not the source the
    /// pipeline read up to there) answers an [`EndsBefore`] error.
    fn available(
        &self,
        split: u32,
        position: u64,
        max: usize,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        async move { Ok(self.read(split, position, max).await?.len()) }
    }

    /// The position `split` starts at, asked once, on its first lease, and
    /// kept durably (journaled, for a remote source): a restart does not
    /// move it. 0 by default; a Kafka source answers an offset.
    fn start(&self, split: u32) -> impl Future<Output = io::Result<u64>> + Send {
        let _ = split;
        async { Ok(0) }
    }

    /// Whether [`available`](Source::available) asks another system, whose
    /// answer can change from one call to the next (a Kafka partition's
    /// end): the split then journals the answer (`ctx.run`), so a replay
    /// leases the same range. A source that computes its records answers
    /// `false` (the default) and saves that journal entry. A remote split asks
    /// about 16 leases at once and keeps the answer, so most leases ask
    /// nothing: override `available` to count without reading.
    fn is_remote(&self) -> bool {
        false
    }

    /// Whether the source ends. A bounded pipeline reports `finished` once
    /// every split is exhausted and every record has been processed.
    fn is_bounded(&self) -> bool;

    /// Whether `split` ends: by default, whether the source does. A source
    /// made of others (a [`Union`]) answers for the one the split is of,
    /// so a bounded input's split that was read to its end holds the
    /// watermark back no more (Flink's final watermark of a finished
    /// split), even while another input goes on.
    fn split_is_bounded(&self, split: u32) -> bool {
        let _ = split;
        self.is_bounded()
    }

    /// For a split whose records are pushed to the pipeline (a
    /// [`Pushed`] source's): its log's limits. Such a split is leased from
    /// its log (`{name}Log`), each lease carrying its records, which
    /// [`decode_pushed`](Source::decode_pushed) turns into items;
    /// [`read`](Source::read) and [`available`](Source::available) are not
    /// asked. `None` (the default) for a split read from elsewhere.
    fn pushed(&self, split: u32) -> Option<PushLimits> {
        let _ = split;
        None
    }

    /// One record pushed to `split`, as its log keeps it (JSON), as an
    /// item: checked when it is pushed, and decoded when it is leased.
    fn decode_pushed(&self, split: u32, record: &serde_json::Value) -> Result<Self::Item, String> {
        let _ = (split, record);
        Err(format!(
            "split {split} is not one that records are pushed to"
        ))
    }

    /// For a split whose log the source feeds itself ([`PushLimits::pulled`],
    /// a CDC slot): reads what is new after `mark` (the last pull's, `None`
    /// for the first), at most `max` records and about `bytes` of them
    /// encoded. The log asks, inside a journaled step, when a token has
    /// taken all it holds, and keeps the answer's records and mark in one
    /// state change: a pull may confirm to its system everything up to the
    /// `mark` it is given, which is durable. An error that is an
    /// [`EndsBefore`] stops the pipeline with its reason; any other is
    /// retried.
    fn pull(
        &self,
        split: u32,
        mark: Option<String>,
        max: usize,
        bytes: usize,
    ) -> impl Future<Output = io::Result<Pulled>> + Send {
        let _ = (split, max, bytes);
        async move {
            Ok(Pulled {
                records: Vec::new(),
                mark: mark.unwrap_or_default(),
            })
        }
    }
}

/// SplitMix64: a small, well-mixed hash, stable across processes and
/// versions. A source that makes records from their position (as
/// [`RandomWords`] does) stays replayable by deriving them from it.
///
/// ```
/// use stream_runtime::source::mix64;
/// assert_eq!(mix64(7), mix64(7));
/// assert_ne!(mix64(7), mix64(8));
/// ```
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Checks the contract between [`Source::available`] and [`Source::read`]
/// for every split, small positions and small maxima.
#[cfg(test)]
pub(crate) fn assert_available_matches_read<S: Source>(source: &S) {
    use crate::testing::{block_on, read};
    for split in 0..source.splits() {
        for position in 0..6 {
            for max in 0..5 {
                assert_eq!(
                    block_on(source.available(split, position, max)).ok(),
                    Some(read(source, split, position, max).len()),
                    "{} splits, split {split}, position {position}, max {max}",
                    source.splits()
                );
            }
        }
    }
}
