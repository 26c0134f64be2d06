//! Flink-style stream processing on [Restate](https://restate.dev).
//!
//! A pipeline reads a source, transforms records, keeps per-key state and
//! writes a sink. Every step is a durable Restate call and all state lives in
//! Restate, so a pipeline survives crashes of its service or of the Restate
//! server with exactly-once results, with no checkpoints and no coordinator.
//!
//! Write pipelines with the [`pipeline!`] macro, or with the typed API it
//! expands to:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use stream_runtime::{pipeline, CollectSink, InMemorySource};
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! struct WordCount {
//!     word: String,
//!     count: u64,
//! }
//!
//! pipeline! {
//!     WordCountExample:
//!     source(InMemorySource::new(["to", "be", "or", "not", "to", "be"]))
//!     |> map(|word| WordCount { word: word.to_string(), count: 1 })
//!     |> key_by(|wc| wc.word.clone())
//!     |> reduce(|a, b| WordCount { count: a.count + b.count, ..a })
//!     |> sink(CollectSink::new())
//! }
//!
//! // Serve it (and any other pipelines) on one endpoint:
//! let endpoint = stream_runtime::Endpoint::new().pipeline(WordCountExample);
//! assert_eq!(endpoint.names().next().unwrap().source, "WordCountExampleSource");
//! ```
//!
//! # Where to read on
//!
//! - **The guide**, an mdBook in the repository's `docs/` (`mdbook serve
//!   docs`): getting started, every DSL stage, time and windows, joins,
//!   the connectors, operating it, its guarantees and how they are proven,
//!   performance beside Flink and Kafka Streams, and how it works inside.
//!   Its Rust blocks are compiled as tests.
//! - **The connectors**, each behind a cargo feature: `kafka` (module and
//!   feature), `postgres` (the same), and Prometheus [`metrics`] (`metrics`).
//! - **The development runner**, which runs pipelines from a `main` on a
//!   local Restate server it starts, is its own crate, `stream-runner`. A
//!   service that only serves pipelines serves an [`Endpoint`] and needs
//!   only this crate.
//!
//! # How it runs
//!
//! A pipeline becomes five Restate services (see [`ServiceNames`]). Tokens
//! are `ingest` invocations: each one leases a range of a source split, reads
//! it, applies the stateless operators, calls the key groups that hold the
//! keyed state, writes the sink, and sends itself again. `addTokens(n)` adds
//! tokens; their number bounds the records in flight. `stop` drains the
//! pipeline (each token finishes its range and parks) and `addTokens`
//! resumes it.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod branch;
mod builder;
mod complete;
mod config;
pub mod counts;
pub mod driver;
mod endpoint;
mod graph;
mod group;
mod group_call;
mod guard;
#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub mod kafka;
pub mod keyed;
pub mod lookup;
pub mod metrics;
mod model;
mod names;
pub mod operator;
mod parameter;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
mod protocol;
mod push;
mod record;
pub mod restate;
mod round;
mod services;
pub mod sink;
pub mod source;
mod stages;
#[cfg(test)]
mod testing;
pub mod time;
pub mod window;

pub use builder::{
    BranchEnd, BranchStream, Complete, JoinInput, Joined, KeyedOutput, KeyedStream, Origin,
    Pipeline, Side, Stream, Tapped, Upstream, WindowedStream,
};
pub use complete::{CompletePipeline, IntoPipeline};
pub use config::PipelineConfig;
pub use endpoint::{Endpoint, EndpointError};
pub use graph::{Graph, Vertex, VertexKind};
pub use keyed::{
    KeyGroups, ListState, MapState, ProcessContext, ReducingState, TimeDomain, Timer, ValueState,
};
pub use names::ServiceNames;
pub use protocol::{overview, Appended, DeadLetter, FailedStage, PushBatch, Status, TokensAdded};
pub use record::{Aggregate, Key, Record};
pub use services::{parse_token_count, DefinitionError, MAX_TOKENS_PER_CALL};
pub use sink::{CollectSink, ConsoleSink, FileSink, Sink};
pub use source::{InMemorySource, RandomWords, Sequence, Source};

pub use stream_macros::pipeline;

/// What `pipeline!` expands to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::builder::{join, Pipeline};
    pub use crate::complete::{CompletePipeline, IntoPipeline};
    pub use crate::keyed::{between, Emit};
    pub use crate::lookup::Enrich;
    pub use crate::names::ServiceNames;
    pub use crate::parameter::copy_for_stage;
    pub use crate::time::Watermarks;
    pub use crate::window::{session, sliding, tumbling};
    pub use core::time::Duration;
}
