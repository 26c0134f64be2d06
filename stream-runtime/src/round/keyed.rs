//! Calling the key groups a range touches (through the [`Exchange`]), and
//! dead-lettering what did not reach them with its source position; then,
//! in a chain, carrying what each stage's groups made to the next stage's
//! groups, one call per group per stage.

use std::collections::BTreeMap;

use super::before_key::GroupBatch;
use super::carry::{carry, chained_letter};
use super::exchange::{Exchange, Typed, Unsent};
use super::{send, Round};
use crate::protocol::handlers::{control, ControlKey};
use crate::protocol::{Answer, Calls, FailedStage};
use crate::stages::{AtLevel, Dataflow, Level};
use crate::time::Millis;

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// Sends every key group the range touches its records, with the
    /// watermark the token carries; a record too large for a call, or that
    /// keeps failing, goes to the dead-letter output with its position.
    /// In a chain, the groups answer what they make for the next stage,
    /// and the token carries it there ([`relay`](Self::relay)).
    pub(super) async fn keyed(
        &self,
        groups: BTreeMap<u32, GroupBatch<D::Mid>>,
        watermark: Option<Millis>,
    ) -> Answer<D::Out> {
        let groups = groups
            .into_iter()
            .map(|(group, batch)| {
                let records = batch.records.records.into_iter().zip(batch.positions);
                (group, records.collect())
            })
            .collect();
        let first = Typed::<D::First>::new();
        let delivered = self.exchange(watermark).deliver(&first, groups).await;
        for unsent in delivered.unsent {
            // Which of the range's records a failed call held is not known
            // beyond their positions: its letter names the range.
            let whole = matches!(unsent, Unsent::Call { .. });
            let (origin, _, error, record) = unsent.into_parts();
            let count = if whole { self.lease.count } else { 1 };
            let position = origin.unwrap_or(self.lease.from);
            self.dead_letter(position, count, FailedStage::Keyed, error, record);
        }
        self.relay(delivered.answer, watermark).await
    }

    /// Carries what the groups of each stage answered for the next one
    /// ([`Answer::passed`]) to that stage's groups ([`carry`]): each group
    /// is called with what every group before made for it, so a hot group
    /// of a later stage takes one call per round, not one per group of the
    /// stage before. What it answers joins the round's answer. A record
    /// that does not reach its group goes to the dead-letter output, named
    /// by the stage and the group that made it.
    pub(super) async fn relay(
        &self,
        mut answer: Answer<D::Out>,
        watermark: Option<Millis>,
    ) -> Answer<D::Out> {
        let mut level = 0;
        while !answer.passed.is_empty() {
            level += 1;
            let passed = std::mem::take(&mut answer.passed);
            let exchange = self.exchange(watermark);
            let delivered = carry::<_, D::Out>(&exchange, level, passed).await;
            for unsent in delivered.unsent {
                let mut letter = chained_letter(level, unsent);
                letter.error = format!("{}{}", self.again, letter.error);
                self.letters
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                send::<control::KeepDeadLetter, _>(self.calls, ControlKey, &letter);
            }
            answer.out.extend(delivered.answer.out);
            answer.needs.extend(delivered.answer.needs);
            answer.passed = delivered.answer.passed;
        }
        answer
    }

    /// The exchange of the round's calls to keyed stages: a chain's groups
    /// answer what they make for the next stage, for the token to carry.
    fn exchange(&self, watermark: Option<Millis>) -> Exchange<'_, C> {
        let config = self.flow.config();
        Exchange {
            calls: self.calls,
            budget: config.max_call_bytes,
            attempts: config.max_attempts,
            watermark,
            relay: self.relays(),
            encoding: config.record_encoding(),
        }
    }

    /// Whether the round's groups answer what they make for the next stage,
    /// for the token to carry: in a chain without event time whose stages
    /// before the last set no timers. With event time, the clock could
    /// wake a later stage past relayed records still on their way (they
    /// would be late there); with timers, what a group's timers fire (sent
    /// on at once) could overtake what it made of the batch before. Either
    /// way the group calls the next stage itself, holding its key group,
    /// as a firing group does (unless the clock carries what it fires:
    /// [`Woken::answers_passed`](crate::group_call::Woken::answers_passed)).
    fn relays(&self) -> bool {
        let (flow, levels) = (self.flow, self.flow.levels());
        levels > 1
            && flow.config().watermarks.is_none()
            && (0..levels - 1).all(|below| flow.first().visit_at(below, Untimed) == Some(true))
    }
}

/// Whether a keyed stage sets no timers.
struct Untimed;

impl AtLevel for Untimed {
    type Out = bool;
    fn at<L: Level>(self, level: &L) -> bool {
        level.time_domain().is_none()
    }
}
