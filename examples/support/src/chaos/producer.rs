//! The push row's producer: sends sequence numbers `0..records` to the
//! pipeline's `{name}Ingest/append` in batches, each batch again with its
//! own key until an answer comes (the server may be down, or killed while
//! the batch was in flight), waiting as long as a 429 says.

use std::time::Duration;

use stream_runtime::restate::IngressClient;
use stream_runtime::{PushBatch, ServiceNames};

use super::workload::PUSH_BATCH;

/// What the producer went through.
#[derive(Debug, Default, Clone, Copy)]
pub struct Produced {
    /// Batches, each answered once as appended.
    pub batches: u64,
    /// Requests with no answer (refused, cut, timed out), sent again.
    pub unanswered: u64,
    /// 429s, waited out.
    pub full: u64,
    /// Answers that the key was seen: a batch whose first answer was lost.
    pub again: u64,
}

/// How long to wait after a request that got no answer.
const UNANSWERED_WAIT: Duration = Duration::from_millis(100);

/// Pushes `0..records`; fails only on an answer no retry mends (a 4xx
/// other than 429).
pub async fn produce(
    ingress: IngressClient,
    names: ServiceNames,
    records: u64,
) -> Result<Produced, String> {
    let mut produced = Produced::default();
    for (k, first) in (0..records).step_by(PUSH_BATCH as usize).enumerate() {
        let batch = PushBatch {
            key: format!("chaos-{k}"),
            records: (first..(first + PUSH_BATCH).min(records))
                .map(serde_json::Value::from)
                .collect(),
            split: None,
        };
        loop {
            match ingress.append(&names, &batch).await {
                Ok(appended) => {
                    produced.batches += 1;
                    produced.again += u64::from(appended.again);
                    break;
                }
                Err(error) if error.status() == Some(429) => {
                    produced.full += 1;
                    tokio::time::sleep(error.retry_after().unwrap_or(UNANSWERED_WAIT)).await;
                }
                Err(error) if error.status().is_some_and(|s| (400..500).contains(&s)) => {
                    return Err(format!("batch {} was refused: {error}", batch.key));
                }
                Err(_) => {
                    produced.unanswered += 1;
                    tokio::time::sleep(UNANSWERED_WAIT).await;
                }
            }
        }
    }
    Ok(produced)
}
