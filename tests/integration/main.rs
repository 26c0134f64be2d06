//! Integration tests against a real restate-server, all in one binary so
//! they share one build and one server.

mod answers;
mod bad_input;
mod branch;
mod chained;
mod chaos;
mod differential;
mod emit;
mod endpoint_outage;
mod enrich;
mod failures;
mod harness;
mod join_after_stages;
mod joins;
mod kafka;
mod kafka_idle;
mod kafka_large_writes;
mod kafka_outage;
mod large_records;
mod layout;
mod metrics;
mod parameters;
mod pipelines;
mod postgres;
mod process;
mod rollout;
mod runner;
mod side_output;
mod stop;
mod timers;
mod tokens;
mod two_pipelines;
mod ui;
mod union;
mod windows;
mod word_count;
