//! A topic's partitions, as the source and the sink both connect to them.

use std::io;
use std::sync::Arc;

use rskafka::client::partition::{PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};

use rskafka::BackoffConfig;

use super::{backoff, io_error, patiently, tried_once, KafkaError};

/// A topic and a client for each of its partitions, in partition order.
pub(crate) struct Topic {
    name: String,
    partitions: Vec<Arc<PartitionClient>>,
}

impl Topic {
    /// Connects to the broker at `bootstrap` (`host:port`) and finds the
    /// topic's partitions, waiting for the broker up to [`PATIENCE`](super::PATIENCE). Each
    /// request of the clients is retried within itself: what reads the
    /// topic uses these. A topic that does not exist is an error that
    /// names the topics there are.
    pub(crate) async fn connect(
        bootstrap: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<Self, KafkaError> {
        Self::connect_with(bootstrap.into(), name.into(), backoff()).await
    }

    /// Connects as [`connect`](Self::connect) does, with clients whose
    /// requests are each tried once: what produces uses these, so that a
    /// produce whose answer was lost is not sent again before the sink
    /// has checked whether it landed.
    pub(crate) async fn connect_tried_once(
        bootstrap: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<Self, KafkaError> {
        let (bootstrap, name) = (bootstrap.into(), name.into());
        patiently(
            || Self::connect_with(bootstrap.clone(), name.clone(), tried_once()),
            |error| matches!(error, KafkaError::Broker { .. }),
        )
        .await
    }

    async fn connect_with(
        bootstrap: String,
        name: String,
        backoff: BackoffConfig,
    ) -> Result<Self, KafkaError> {
        let broker = |reason: String| KafkaError::Broker {
            bootstrap: bootstrap.clone(),
            reason,
        };
        let client: Client = ClientBuilder::new(vec![bootstrap.clone()])
            .backoff_config(backoff)
            .build()
            .await
            .map_err(|e| broker(e.to_string()))?;
        let topics = client
            .list_topics()
            .await
            .map_err(|e| broker(e.to_string()))?;
        let Some(found) = topics.iter().find(|t| t.name == name) else {
            let known: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
            return Err(KafkaError::NoTopic {
                topic: name,
                bootstrap,
                known: known.join(", "),
            });
        };
        let mut partitions = Vec::with_capacity(found.partitions.len());
        for partition in &found.partitions {
            let client = client
                .partition_client(&name, *partition, UnknownTopicHandling::Retry)
                .await
                .map_err(|e| broker(e.to_string()))?;
            partitions.push(Arc::new(client));
        }
        Ok(Self { name, partitions })
    }

    /// The topic's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// How many partitions it has.
    pub(crate) fn count(&self) -> u32 {
        u32::try_from(self.partitions.len()).unwrap_or(u32::MAX)
    }

    /// The client of partition `partition`.
    pub(crate) fn partition(&self, partition: u32) -> io::Result<&PartitionClient> {
        let client = self.partitions.get(partition as usize);
        client.map(|p| p.as_ref()).ok_or_else(|| {
            let reason = format!("{} has no partition {partition}", self.name);
            io_error("partition", reason)
        })
    }
}
