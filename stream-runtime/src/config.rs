//! Per-pipeline settings.

use crate::group::KeyGroups;
use crate::protocol::codec::Encoding;
use crate::time::Watermarks;

/// How a pipeline batches and spreads its keys. The builder sets each field
/// (`Pipeline::named(..).batch_size(5_000)`), and the macro's options too
/// (`pipeline! { Name(batch_size = 5_000): .. }`).
///
/// ```
/// use stream_runtime::PipelineConfig;
///
/// let config = PipelineConfig::default();
/// assert_eq!(config.batch_size, PipelineConfig::DEFAULT_BATCH_SIZE);
/// assert_eq!(config.max_attempts, PipelineConfig::DEFAULT_MAX_ATTEMPTS);
/// assert!(config.combine_before_shuffle && config.state_read_cache && config.state_deltas);
/// assert!(config.binary_records);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineConfig {
    /// The most records a token carries per round (at least 1). A round
    /// takes what the split has, up to this: a quiet source makes small
    /// batches and a busy one full ones, so that the records that arrive
    /// while a round runs go in the next (its linger is the round itself).
    /// A batch size of 1 is the seed's one-record-per-token design.
    pub batch_size: u32,
    /// How many key groups hold the keyed state. Durable: see [`KeyGroups`].
    pub key_groups: KeyGroups,
    /// How often a record whose user function panics (or whose keyed state
    /// does not decode) is tried before it goes to the dead-letter output,
    /// and how often a sink write is tried before its batch does (at least 1).
    pub max_attempts: u32,
    /// How watermarks are made, when the pipeline has `event_time`.
    pub watermarks: Option<Watermarks>,
    /// The splits `from..to` of a join's input without `event_time`: its
    /// records carry no time, so its splits hold the watermark back not
    /// at all (set by [`Stream::join`](crate::Stream::join)).
    pub untimed_splits: Option<(u32, u32)>,
    /// The most bytes of records (as sent: JSON, or MessagePack between
    /// stages with [`binary_records`](Self::binary_records)) one call to a
    /// key group or to the sink carries: a round sends more in several calls, and a record
    /// larger than this alone goes to the dead-letter output. Keep it well
    /// under restate-server's message limit (`worker.invoker.message-size-limit`,
    /// 32 MiB by default), which a call's answer must also fit.
    pub max_call_bytes: usize,
    /// Whether a keyed stage that has a combiner (a `reduce` emitting the
    /// latest value per batch) gets one partial per key of a round, folded
    /// before the shuffle, rather than every record: Flink SQL's two-phase
    /// aggregation. On by default; its output is the same either way.
    pub combine_before_shuffle: bool,
    /// Whether a key group's calls take the state entries this endpoint
    /// process has seen as they are stored from its memory (journaled as
    /// one `ctx.run`), instead of one lazy read per key: about half the
    /// state operations for many keys. On by default; see the guide's
    /// performance chapter, "Choosing the settings".
    pub state_read_cache: bool,
    /// Whether a key group's call that reads through the cache writes what
    /// it changed as one entry, folded into the keys' own entries once 256
    /// are pending, instead of one entry per key: over many keys, a few
    /// journaled commands a call instead of one per key. On by default;
    /// without the read cache it does nothing.
    pub state_deltas: bool,
    /// Whether records cross between stages (a token and its key groups,
    /// one keyed stage and the next, the last and the sink's handler) as
    /// MessagePack instead of JSON: fewer bytes for the server to journal.
    /// On by default (the guide's performance chapter has what it gains).
    /// State, timers, dead letters, what sinks write out and Restate's
    /// ingress stay JSON, and so does a call whose records hold a
    /// `serde_json::value::RawValue`, which only JSON can carry. Those
    /// calls are then unreadable as text in Restate's UI: turn it off to
    /// read them there. Either way, records written the other way are read.
    pub binary_records: bool,
}

impl PipelineConfig {
    /// The default batch size: large, since a batch is only as full as
    /// the backlog (see [`batch_size`](Self::batch_size)). Over 15 words it
    /// doubled the rate against 10,000 and tripled it against 5,000, at the
    /// same delay p50 when not saturated (the guide's performance chapter).
    pub const DEFAULT_BATCH_SIZE: u32 = 20_000;
    /// The default number of attempts.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
    /// The default bytes per call: a quarter of the server's default limit.
    pub const DEFAULT_MAX_CALL_BYTES: usize = 8 << 20;

    /// The encoding records between stages are asked to go in
    /// ([`binary_records`](Self::binary_records)).
    pub(crate) fn record_encoding(&self) -> Encoding {
        match self.binary_records {
            true => Encoding::Binary,
            false => Encoding::Json,
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            batch_size: Self::DEFAULT_BATCH_SIZE,
            key_groups: KeyGroups::DEFAULT,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            watermarks: None,
            untimed_splits: None,
            max_call_bytes: Self::DEFAULT_MAX_CALL_BYTES,
            combine_before_shuffle: true,
            state_read_cache: true,
            state_deltas: true,
            binary_records: true,
        }
    }
}
