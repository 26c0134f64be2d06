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
/// | `{name}Keyed` | Virtual Object | key group | `process`, `advance`, `wake`, `pending` (shared) |
/// | `{name}Keyed2`, … | Virtual Object | key group | the same, for each keyed stage after the first |
/// | `{name}Sink` | Virtual Object | sink partition | `write`, `progress` (shared) |
/// | `{name}Control` | Virtual Object | `pipeline` | `add`, `stop`, `park`, `halt`, `deadLetter`, `late`, `get` (shared) |
/// | `{name}Clock` | Virtual Object | `pipeline` | `report`, `need`, `get` (shared); only with `event_time` |
/// | `{name}Ingest` | Service | | `append` (public); only with a [`Pushed`](crate::source::Pushed) source |
/// | `{name}Log` | Virtual Object | source split | `append`, `take`; only with a [`Pushed`](crate::source::Pushed) source |
///
/// Only `addTokens`, `stop`, `status` (and `append`) are reachable through the ingress;
/// the rest are private to the pipeline.
///
/// ```
/// use stream_runtime::ServiceNames;
///
/// let names = ServiceNames::for_pipeline("WordCount");
/// // `curl -X POST localhost:8080/WordCountSource/addTokens -d 10`
/// assert_eq!(names.source, "WordCountSource");
/// assert_eq!(names.control, "WordCountControl");
/// // The second keyed stage's groups are a service of their own.
/// assert_eq!(names.at_level(1).keyed, "WordCountKeyed2");
/// ```
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
    /// The watermark, one object (pipelines with `event_time` only).
    pub clock: String,
    /// Where records are pushed: `append` (pipelines whose source is
    /// [`Pushed`](crate::source::Pushed) only).
    pub ingest: String,
    /// The pushed records not yet read, one object per split (pipelines
    /// whose source is [`Pushed`](crate::source::Pushed) only).
    pub log: String,
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
            clock: format!("{pipeline}Clock"),
            ingest: format!("{pipeline}Ingest"),
            log: format!("{pipeline}Log"),
        }
    }

    /// The names as keyed stage `level` sees them (0 is the first): the
    /// key groups of each stage after the first are a service of their
    /// own, `{name}Keyed2`, `{name}Keyed3`, and so on; the other services
    /// are the pipeline's.
    pub fn at_level(&self, level: u32) -> Self {
        let mut names = self.clone();
        let first = format!("{}Keyed", self.pipeline);
        names.keyed = keyed_at(&first, level).into_owned();
        names
    }

    /// Every service of the pipeline.
    pub fn services(&self) -> [&str; 8] {
        [
            &self.source,
            &self.split,
            &self.keyed,
            &self.sink,
            &self.control,
            &self.clock,
            &self.ingest,
            &self.log,
        ]
    }
}

/// Whether `name` can name a pipeline: an ASCII letter, then letters,
/// digits or underscores.
pub(crate) fn is_valid_pipeline_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The service of keyed stage `level`'s groups, given the first's
/// (`{P}Keyed`): itself for level 0, then `{P}Keyed2`, `{P}Keyed3`, ….
pub(crate) fn keyed_at(first: &str, level: u32) -> std::borrow::Cow<'_, str> {
    match level {
        0 => std::borrow::Cow::Borrowed(first),
        _ => std::borrow::Cow::Owned(format!("{first}{}", level + 1)),
    }
}
