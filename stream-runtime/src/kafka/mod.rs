//! Kafka connectors (feature `kafka`): [`KafkaSource`] reads a topic by
//! offset, and [`KafkaSink`] writes one exactly once. Both use rskafka, a
//! pure-Rust client, so the build needs no librdkafka.

mod last_produced;
mod record;
mod requests;
mod sink;
mod source;

pub use record::KafkaRecord;
pub use sink::KafkaSink;
pub use source::{KafkaSource, StartAt};

use std::sync::Arc;
use std::time::Duration;

use rskafka::client::partition::{PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
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

/// Retries within one call: a short backoff, and a deadline after which the
/// call fails (and the pipeline's round is retried by Restate).
fn backoff() -> BackoffConfig {
    BackoffConfig {
        init_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
        deadline: Some(Duration::from_secs(30)),
    }
}

/// A client for every partition of `topic`, in partition order.
pub(crate) async fn partitions(
    bootstrap: &str,
    topic: &str,
) -> Result<Vec<Arc<PartitionClient>>, KafkaError> {
    let broker = |reason: String| KafkaError::Broker {
        bootstrap: bootstrap.to_owned(),
        reason,
    };
    let client: Client = ClientBuilder::new(vec![bootstrap.to_owned()])
        .backoff_config(backoff())
        .build()
        .await
        .map_err(|e| broker(e.to_string()))?;
    let topics = client
        .list_topics()
        .await
        .map_err(|e| broker(e.to_string()))?;
    let Some(found) = topics.iter().find(|t| t.name == topic) else {
        let known: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        return Err(KafkaError::NoTopic {
            topic: topic.to_owned(),
            bootstrap: bootstrap.to_owned(),
            known: known.join(", "),
        });
    };
    let mut clients = Vec::with_capacity(found.partitions.len());
    for partition in &found.partitions {
        let client = client
            .partition_client(topic, *partition, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| broker(e.to_string()))?;
        clients.push(Arc::new(client));
    }
    Ok(clients)
}

/// A Kafka error as an I/O error (which the pipeline retries).
pub(crate) fn io_error(what: &str, error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("Kafka {what}: {error}"))
}
