//! Calling the key groups a range touches (through the [`Exchange`]), and
//! dead-lettering what did not reach them with its source position.

use std::collections::BTreeMap;

use super::before_key::GroupBatch;
use super::exchange::{Exchange, Unsent};
use super::Round;
use crate::protocol::{Answer, Calls, FailedStage};
use crate::stages::Dataflow;
use crate::time::Millis;

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// Sends every key group the range touches its records, with the
    /// watermark the token carries; a record too large for a call, or that
    /// keeps failing, goes to the dead-letter output with its position.
    pub(super) async fn keyed(
        &self,
        groups: BTreeMap<u32, GroupBatch<D::Mid>>,
        watermark: Option<Millis>,
    ) -> Answer<D::Out> {
        let config = self.flow.config();
        let exchange = Exchange {
            calls: self.calls,
            budget: config.max_call_bytes,
            attempts: config.max_attempts,
            watermark,
            // A first-stage group answers its output whatever this says.
            answer_out: false,
        };
        let groups = groups
            .into_iter()
            .map(|(group, batch)| {
                let records = batch.records.records.into_iter().zip(batch.positions);
                (group, records.collect())
            })
            .collect();
        let delivered = exchange.deliver::<D::First>(groups).await;
        for unsent in delivered.unsent {
            let (position, count, error, record) = match unsent {
                Unsent::TooLarge { origin, reason } => (origin, 1, reason, None),
                Unsent::Failed {
                    origin,
                    error,
                    record,
                } => (origin, 1, error, record),
                // Which of the range's records it held is not known
                // beyond their positions: the letter names the range.
                Unsent::Call { origins, error } => {
                    let from = origins.iter().copied().min().unwrap_or(self.lease.from);
                    (from, self.lease.count, error, None)
                }
            };
            self.dead_letter(position, count, FailedStage::Keyed, error, record);
        }
        delivered.answer
    }
}
