//! Replaying a dead letter, as plain code over the [`Calls`] seam: the
//! record enters again at the keyed stage it failed at, through the same
//! exchange and sink writes as a token's round. The `replay` handler takes
//! the letters out of the list (`{name}Control/takeDeadLetters`) and hands
//! them here; each call is journaled, so a letter is replayed once. A
//! record that fails again is a new dead letter, with the same source
//! position.

use std::collections::BTreeMap;

use super::exchange::{Exchange, Unsent};
use super::{send, Round};
use crate::group::key_group;
use crate::protocol::handlers::{clock, ControlKey};
use crate::protocol::{Calls, DeadLetter, FailedStage, Lease, Token};
use crate::stages::Dataflow;

/// Sends `letter`'s record to its key group at the first keyed stage, and
/// writes what the stage gives to the sink. A record that fails again (on
/// each of its attempts) goes to the dead-letter output, and the answer is
/// `false`.
pub(crate) async fn replay<D: Dataflow, C: Calls>(flow: &D, calls: &C, letter: DeadLetter) -> bool {
    let round = Round {
        flow,
        calls,
        split: letter.split,
        lease: Lease {
            from: letter.position,
            count: 1,
            dry: None,
        },
    };
    let again = |error: String| {
        let error = format!("replayed: {error}");
        round.dead_letter(
            letter.position,
            1,
            letter.stage.clone(),
            error,
            letter.record.clone(),
        );
        false
    };
    if let Err(why) = letter.replayable() {
        return again(why.to_owned());
    }
    let Some(record) = letter.record.clone() else {
        return again("the letter has no record".to_owned());
    };
    let mid: D::Mid = match serde_json::from_value(record) {
        Ok(mid) => mid,
        Err(error) => {
            return again(format!(
                "the record does not decode as the stage's input: {error}"
            ))
        }
    };
    let key = match flow.encode_key(&mid) {
        Ok(key) => key,
        Err(error) => return again(format!("the record's key does not encode: {error}")),
    };
    let group = key_group(&key, flow.config().key_groups);
    let config = flow.config();
    let exchange = Exchange {
        calls,
        budget: config.max_call_bytes,
        attempts: config.max_attempts,
        watermark: None,
    };
    let groups = BTreeMap::from([(group, vec![(mid, letter.position)])]);
    let delivered = exchange.deliver::<D::First>(groups).await;
    if let Some(unsent) = delivered.unsent.into_iter().next() {
        let (error, record) = match unsent {
            Unsent::TooLarge { reason, .. } => (reason, letter.record.clone()),
            Unsent::Failed { error, record, .. } => (error, record.or(letter.record.clone())),
            Unsent::Call { error, .. } => (error, letter.record.clone()),
        };
        let error = format!("replayed: {error}");
        round.dead_letter(letter.position, 1, FailedStage::Keyed, error, record);
        return false;
    }
    let answer = delivered.answer;
    if flow.config().watermarks.is_some() {
        for need in &answer.needs {
            send::<clock::WakeMe, _>(calls, ControlKey, need);
        }
    }
    if !answer.out.is_empty() {
        let token = Token::new(u64::from(letter.split), None);
        round.write(token, answer.out).await;
    }
    true
}
