//! The durable names of a pipeline's Restate services and handlers.

/// The Restate services of one pipeline, named after it.
///
/// Service names are durable identifiers: Restate keys invocations and
/// state by them. They derive from the pipeline name alone, so renaming a
/// pipeline starts it afresh, and nothing else changes them.
///
/// | service | kind | key | handlers |
/// |---|---|---|---|
/// | `{name}Source` | Service | | `addTokens`, `stop`, `status` (public); `ingest` |
/// | `{name}Split` | Virtual Object | source split | `next`, `stop`, `resume`, `progress` (shared) |
/// | `{name}Keyed` | Virtual Object | key group | `process` |
/// | `{name}Sink` | Virtual Object | sink partition | `write`, `progress` (shared) |
/// | `{name}Control` | Virtual Object | `pipeline` | `add`, `stop`, `park`, `halt`, `deadLetter`, `get` (shared) |
///
/// Only `addTokens`, `stop` and `status` are reachable through the ingress;
/// the rest are private to the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNames {
    /// The pipeline's name.
    pub pipeline: String,
    /// The token driver: `addTokens`, `ingest`, `status`.
    pub source: String,
    /// Source split positions, one object per split.
    pub split: String,
    /// Keyed state, one object per key group.
    pub keyed: String,
    /// Sink partitions, one object per partition.
    pub sink: String,
    /// Token accounting and dead letters, one object.
    pub control: String,
}

impl ServiceNames {
    /// The names for the pipeline called `pipeline`.
    pub fn for_pipeline(pipeline: &str) -> Self {
        Self {
            pipeline: pipeline.to_owned(),
            source: format!("{pipeline}Source"),
            split: format!("{pipeline}Split"),
            keyed: format!("{pipeline}Keyed"),
            sink: format!("{pipeline}Sink"),
            control: format!("{pipeline}Control"),
        }
    }
}

/// Handler names. Like service names, they are durable.
pub mod handler {
    /// `{name}Source/addTokens`: injects tokens (body: a count, e.g. `10`).
    pub const ADD_TOKENS: &str = "addTokens";
    /// `{name}Source/status`: the pipeline's [`Status`](crate::Status).
    pub const STATUS: &str = "status";
    /// `{name}Source/stop`: drains the pipeline (no body); also
    /// `{name}Control/pipeline/stop` and `{name}Split/{split}/stop`.
    pub const STOP: &str = "stop";
    /// `{name}Split/{split}/resume`: leases again after a stop.
    pub const RESUME: &str = "resume";
    /// `{name}Source/ingest`: one token's round.
    pub const INGEST: &str = "ingest";
    /// `{name}Split/{split}/next`: leases the next range of a split.
    pub const NEXT: &str = "next";
    /// `{name}Split/{split}/progress` and `{name}Sink/{partition}/progress`.
    pub const PROGRESS: &str = "progress";
    /// `{name}Keyed/{group}/process`: applies the keyed operator to a batch.
    pub const PROCESS: &str = "process";
    /// `{name}Sink/{partition}/write`: writes a batch once.
    pub const WRITE: &str = "write";
    /// `{name}Control/pipeline/add`: records and starts new tokens.
    pub const ADD: &str = "add";
    /// `{name}Control/pipeline/park`: a token of a finished bounded source stops.
    pub const PARK: &str = "park";
    /// `{name}Control/pipeline/halt`: a token that met another layout stops.
    pub const HALT: &str = "halt";
    /// `{name}Control/pipeline/deadLetter`: records a batch that could not be processed.
    pub const DEAD_LETTER: &str = "deadLetter";
    /// `{name}Control/pipeline/get`: the token and dead-letter counters.
    pub const GET: &str = "get";
}

/// The key of the pipeline's one control object.
pub const CONTROL_KEY: &str = "pipeline";

/// Whether `name` can name a pipeline: an ASCII letter, then letters,
/// digits or underscores.
pub fn is_valid_pipeline_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
