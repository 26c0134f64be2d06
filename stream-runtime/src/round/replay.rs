//! Replaying a dead letter, as plain code over the [`Calls`] seam: the
//! record enters again at the keyed stage it failed at, through the same
//! exchange and sink writes as a token's round, or is written again to
//! the sink that rejected it. The `replay` handler takes
//! the letters out of the list (`{name}Control/takeDeadLetters`) and hands
//! them here; each call is journaled, so a letter is replayed once. A
//! record that fails again is a new dead letter, with the same stage and
//! source position.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use super::exchange::{Exchange, Typed, Unsent};
use super::write::{write_once_to, Unwritten};
use super::{send, Round};
use crate::config::PipelineConfig;
use crate::group::key_group;
use crate::protocol::codec::Encoding;
use crate::protocol::handlers::{clock, sink, ControlKey, SinkService};
use crate::protocol::{
    BatchAnswer, Calls, DeadLetter, Entry, FailedStage, Handler, Lease, SinkBatch, Token,
};
use crate::record::Record;
use crate::source::Source;
use crate::stages::{AtLevel, Dataflow, Level};
use crate::time::watermark::Need;

/// Sends `letter`'s record in again where it failed (see
/// [`DeadLetter::entry`]): to its key group at the keyed stage it failed at
/// (called through `stage_calls`, addressed to that stage's services),
/// writing what the first stage gives to the sink (a later stage's group
/// writes its own, or passes it on); to the sink that rejected it; or, for
/// a record that failed before `key_by`, read again from the source. A
/// record that fails again (on each of its attempts) goes to the
/// dead-letter output, and the answer is `false`.
pub(crate) async fn replay<D: Dataflow, C: Calls, S: Calls>(
    flow: &D,
    calls: &C,
    stage_calls: &S,
    letter: DeadLetter,
) -> std::io::Result<bool> {
    let round = Round {
        flow,
        calls,
        split: letter.split,
        lease: Lease {
            from: letter.position,
            count: 1,
            dry: None,
            // A pushed record is read from its letter: the log keeps
            // nothing once it is leased.
            records: flow
                .source()
                .pushed(letter.split)
                .and(letter.record.clone())
                .map(|record| vec![record]),
        },
        again: "replayed: ",
        letters: AtomicU32::new(0),
    };
    let again = |error: String, record: Option<Value>| {
        let record = record.or_else(|| letter.record.clone());
        round.dead_letter(letter.position, 1, letter.stage.clone(), error, record);
        false
    };
    if let Err(why) = letter.replayable() {
        return Ok(again(why.to_owned(), None));
    }
    // Who wrote it first: the token is not kept, so its split stands in;
    // for a timer's output, the key group that wrote it.
    let token = match letter.stage {
        FailedStage::TimersSink { group, .. } => u64::from(group),
        _ => u64::from(letter.split),
    };
    if letter.entry() == Some(Entry::Read) {
        if flow.source().pushed(letter.split).is_some() && letter.record.is_none() {
            // The log dropped it once leased, and the letter did not keep it.
            return Ok(again(
                "the pushed record was not kept with its letter".to_owned(),
                None,
            ));
        }
        // The first keyed stage's names are the pipeline's own.
        return read_again(&round, token).await;
    }
    let (Some(entry), Some(record)) = (letter.entry(), letter.record.clone()) else {
        return Ok(again("the letter has no record".to_owned(), None));
    };
    // A sink's letter is written again, to the partition the sink routes
    // it to (the token that first wrote it is not kept: its split, or its
    // key group, stands in for it).
    let level = match entry {
        Entry::Read => return Ok(again("the letter has no record".to_owned(), None)),
        Entry::Keyed(level) => level,
        Entry::Sink => {
            let written = match decode::<D::Out>(record, "the sink's input") {
                Ok(out) => {
                    to_sink::<C, sink::Write<D::Out>, _>(
                        calls,
                        flow.by_sink_partition(token, vec![out]),
                    )
                    .await
                }
                Err(error) => Err((error, None)),
            };
            return Ok(written.map_or_else(|(error, record)| again(error, record), |()| true));
        }
        Entry::BranchSink => {
            let after = flow.sink_partitions();
            let written = match decode::<D::Side>(record, "the branch's sink's input") {
                Ok(side) => {
                    let partitions = flow.by_side_partition(token, vec![side]);
                    let partitions = (partitions.into_iter())
                        .map(|(partition, records)| (after + partition, records))
                        .collect();
                    to_sink::<C, sink::WriteSide<D::Side>, _>(calls, partitions).await
                }
                Err(error) => Err((error, None)),
            };
            return Ok(written.map_or_else(|(error, record)| again(error, record), |()| true));
        }
    };
    let needs = if level == 0 {
        let sent = match first_stage(flow, stage_calls, record, letter.position) {
            Ok(sent) => sent.await,
            Err(error) => return Ok(again(error, None)),
        };
        let (unsent, answer) = match sent {
            Ok(answer) => (None, answer),
            Err(unsent) => (Some(unsent), Default::default()),
        };
        if let Some((error, record)) = unsent {
            return Ok(again(error, record));
        }
        if !answer.out.is_empty() {
            round.write(Token::new(token, None), answer.out).await;
        }
        answer.needs
    } else {
        let config = flow.config();
        let deliver = Deliver {
            calls: stage_calls,
            config,
            record,
            position: letter.position,
        };
        let sent = match flow.first().visit_at(level, deliver) {
            Some(Ok(sent)) => sent.await,
            Some(Err(error)) => return Ok(again(error, None)),
            None => {
                let error = format!("the pipeline has no keyed stage {}", level + 1);
                return Ok(again(error, None));
            }
        };
        match sent {
            Ok(needs) => needs,
            Err((error, record)) => return Ok(again(error, record)),
        }
    };
    if flow.config().watermarks.is_some() {
        for need in &needs {
            send::<clock::WakeMe, _>(calls, ControlKey, need);
        }
    }
    // A write of its result that failed is a letter too.
    Ok(round.letters.load(Ordering::Relaxed) == 0)
}

/// A letter of a record that failed before `key_by`: its position is read
/// again and run as a round of that one position, without a lease (its
/// key groups judge it by their own watermarks, and the clock hears
/// nothing of it). Whether it went through with no new dead letter; an
/// error reading the source fails the replay, which Restate retries, as
/// it does a token's round.
async fn read_again<D: Dataflow, C: Calls>(
    round: &Round<'_, D, C>,
    token: u64,
) -> std::io::Result<bool> {
    let routed = round.before_key().await?;
    // A record that was read and failed again is a letter already.
    if routed.read == 0 && round.letters.load(Ordering::Relaxed) == 0 {
        let (split, position) = (round.split, round.lease.from);
        let error = format!("split {split} holds no record at position {position} now");
        round.dead_letter(position, 1, FailedStage::BeforeKey, error, None);
        return Ok(false);
    }
    let mut output = routed.output;
    let mut needs = Vec::new();
    if !routed.groups.is_empty() {
        let answer = round.keyed(routed.groups, None).await;
        output.extend(answer.out);
        needs = answer.needs;
    }
    let token = Token::new(token, None);
    if !output.is_empty() {
        round.write(token, output).await;
    }
    if !routed.side.is_empty() {
        round.write_side(token, routed.side).await;
    }
    if round.flow.config().watermarks.is_some() {
        for need in &needs {
            send::<clock::WakeMe, _>(round.calls, ControlKey, need);
        }
    }
    Ok(round.letters.load(Ordering::Relaxed) == 0)
}

/// Why a replayed record failed again, with the record as it entered.
type Failed = (String, Option<Value>);

/// The record at the first stage: its group's answer, with the output the
/// caller writes.
#[allow(clippy::type_complexity)]
fn first_stage<'a, D: Dataflow, S: Calls>(
    flow: &'a D,
    calls: &'a S,
    record: Value,
    position: u64,
) -> Result<
    impl Future<Output = Result<crate::protocol::Answer<D::Out>, Failed>> + use<'a, D, S>,
    String,
> {
    let (group, mid) = route(&**flow.first(), flow.config(), record)?;
    Ok(async move {
        let delivered = exchange(calls, flow.config())
            .deliver(
                &Typed::<D::First>::new(),
                BTreeMap::from([(group, vec![(mid, position)])]),
            )
            .await;
        match delivered.unsent.into_iter().next() {
            Some(unsent) => Err(failed(unsent)),
            None => Ok(delivered.answer),
        }
    })
}

/// The record at a later stage, whichever it is: its group passes what it
/// gives on, or writes it, itself; the wake-ups it asks for come back.
struct Deliver<'a, S> {
    calls: &'a S,
    config: &'a PipelineConfig,
    record: Value,
    position: u64,
}

type Sent<'a> = Pin<Box<dyn Future<Output = Result<Vec<Need>, Failed>> + Send + 'a>>;

impl<'a, S: Calls> AtLevel for Deliver<'a, S> {
    type Out = Result<Sent<'a>, String>;

    fn at<L: Level>(self, level: &L) -> Self::Out {
        let (group, mid) = route(level, self.config, self.record)?;
        let (calls, config, position) = (self.calls, self.config, self.position);
        Ok(Box::pin(async move {
            let delivered = exchange(calls, config)
                .deliver(
                    &Typed::<L>::new(),
                    BTreeMap::from([(group, vec![(mid, position)])]),
                )
                .await;
            match delivered.unsent.into_iter().next() {
                Some(unsent) => Err(failed(unsent)),
                None => Ok(delivered.answer.needs),
            }
        }))
    }
}

/// Writes a sink's letter again, through the handler `H` (`write`, or a
/// branch's `writeSide`), to the partitions it routes to; why it was not
/// written, otherwise.
async fn to_sink<C, H, T>(calls: &C, partitions: BTreeMap<u32, Vec<T>>) -> Result<(), Failed>
where
    C: Calls,
    H: Handler<Service = SinkService, Input = SinkBatch<T>, Output = BatchAnswer<()>>,
    T: Record,
{
    let mut failed = None;
    for (partition, records) in partitions {
        // A letter written again goes as JSON: one record, seldom.
        let records = SinkBatch {
            records,
            encoding: Encoding::Json,
        };
        write_once_to::<C, H, T>(calls, partition, records, |unwritten| {
            failed.get_or_insert(match unwritten {
                Unwritten::Batch(error) => (error, None),
                Unwritten::Record(error, record) => (error, record),
            });
        })
        .await;
    }
    failed.map_or(Ok(()), Err)
}

/// The record as the stage that takes it (`what`) reads it.
fn decode<T: Record>(record: Value, what: &str) -> Result<T, String> {
    serde_json::from_value(record).map_err(|e| format!("the record does not decode as {what}: {e}"))
}

/// The record as `level` takes it, and its key group there.
fn route<L: Level>(
    level: &L,
    config: &PipelineConfig,
    record: Value,
) -> Result<(u32, L::Mid), String> {
    let mid: L::Mid = decode(record, "the stage's input")?;
    let key =
        (level.encode_key(&mid)).map_err(|e| format!("the record's key does not encode: {e}"))?;
    Ok((key_group(&key, config.key_groups), mid))
}

/// The exchange a replayed record goes through: as a round's, judged by
/// its group's own watermark.
fn exchange<'c, S>(calls: &'c S, config: &PipelineConfig) -> Exchange<'c, S> {
    Exchange {
        calls,
        budget: config.max_call_bytes,
        attempts: config.max_attempts,
        watermark: None,
        relay: false,
        encoding: config.record_encoding(),
    }
}

fn failed(unsent: Unsent) -> Failed {
    match unsent {
        Unsent::TooLarge { reason, .. } => (reason, None),
        Unsent::Failed { error, record, .. } => (error, record),
        Unsent::Call { error, .. } => (error, None),
    }
}
