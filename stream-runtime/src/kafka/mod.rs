//! Kafka connectors (feature `kafka`): [`KafkaSource`] reads a topic by
//! offset, and [`KafkaSink`] writes one exactly once. Both use rskafka, a
//! pure-Rust client, so the build needs no librdkafka.

mod fetch_size;
mod last_produced;
mod record;
mod requests;
mod sink;
mod source;
mod topic;

pub use record::{KafkaRecord, NotJson};
pub use sink::{EncodeFailed, KafkaSink};
pub use source::{KafkaSource, StartAt};

use std::time::Duration;

use rskafka::BackoffConfig;

/// Why a Kafka source or sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The topic does not exist on the broker.
    #[error(
        "Kafka topic `{topic}` does not exist on {bootstrap}; create it first (topics: {known})"
    )]
    NoTopic {
        /// The topic asked for.
        topic: String,
        /// The broker asked.
        bootstrap: String,
        /// The topics the broker has.
        known: String,
    },
    /// The broker could not be reached, or answered with an error.
    #[error("Kafka at {bootstrap}: {reason}")]
    Broker {
        /// The broker asked.
        bootstrap: String,
        /// What went wrong.
        reason: String,
    },
}

/// How long a call waits for the broker before it fails (and the
/// pipeline's round is retried by Restate).
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// Retries within one call: a short backoff, up to [`PATIENCE`].
pub(crate) fn backoff() -> BackoffConfig {
    BackoffConfig {
        init_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
        deadline: Some(PATIENCE),
    }
}

/// No retry within a call: the caller retries, after checking what the
/// failed call did (a produce whose answer was lost may have landed).
pub(crate) fn tried_once() -> BackoffConfig {
    BackoffConfig {
        deadline: Some(Duration::ZERO),
        ..backoff()
    }
}

/// Runs `attempt` until it succeeds, fails with an error `again` does not
/// take, or [`PATIENCE`] has passed, pausing between attempts as
/// [`backoff`] does: for the calls whose requests are tried once.
pub(crate) async fn patiently<T, E, F>(
    mut attempt: impl FnMut() -> F,
    again: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: std::future::Future<Output = Result<T, E>>,
{
    let BackoffConfig {
        init_backoff,
        max_backoff,
        ..
    } = backoff();
    let started = std::time::Instant::now();
    let mut pause = init_backoff;
    loop {
        match attempt().await {
            Err(error) if again(&error) && started.elapsed() < PATIENCE => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(max_backoff);
            }
            done => return done,
        }
    }
}

/// A Kafka error as an I/O error (which the pipeline retries).
pub(crate) fn io_error(what: &str, error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("Kafka {what}: {error}"))
}
