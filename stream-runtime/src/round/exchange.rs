//! The one way records reach a keyed stage's groups, as plain code over the
//! [`Calls`] seam: from a token to the first stage, and from a group to the
//! next stage's. Each group's records go in as many calls as
//! [`max_call_bytes`](crate::PipelineConfig::max_call_bytes) needs, each
//! call carries the watermark its records are judged by, a record that
//! fails is tried up to [`max_attempts`](crate::PipelineConfig::max_attempts)
//! times, and what cannot be delivered is answered for the dead-letter
//! output rather than retried forever.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use restate_sdk::errors::TerminalError;
use serde_json::value::RawValue;

use super::fit::{cut_records, too_large_reason};
use crate::protocol::codec::Encoding;
use crate::protocol::handlers::keyed;
use crate::protocol::{
    Answer, BatchAnswer, BatchFailed, Calls, Encoded, Handler, KeyOf, KeyedBatch, Message,
    StageGroup,
};
use crate::record::Record;
use crate::stages::Level;
use crate::time::Millis;

/// A keyed stage as the exchange calls it: what its groups take and
/// answer, and how one of them is addressed.
pub(crate) trait Stage {
    /// The records a group takes.
    type Mid: Record;
    /// What reaches the sink at the end of the chain.
    type Final: Record;
    /// The handler called.
    type Call: Handler<
        Input = KeyedBatch<Self::Mid>,
        Output = BatchAnswer<Encoded<Answer<Self::Final>>>,
    >;
    /// The address of group `group`.
    fn group(&self, group: u32) -> KeyOf<Self::Call>;
}

/// Stage `N`, called with its own records' type (a token's first stage,
/// or a group's next stage).
pub(crate) struct Typed<N>(PhantomData<N>);

impl<N> Typed<N> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<N: Level> Stage for Typed<N> {
    type Mid = N::Mid;
    type Final = N::Final;
    type Call = keyed::Process<N>;
    fn group(&self, group: u32) -> u32 {
        group
    }
}

/// Keyed stage `level`, called by a token with the records as JSON, as
/// the stage before answered them ([`crate::protocol::Passed`]).
pub(crate) struct Relayed<F> {
    pub level: u32,
    pub sink: PhantomData<F>,
}

impl<F: Record> Stage for Relayed<F> {
    type Mid = Box<RawValue>;
    type Final = F;
    type Call = keyed::Relay<F>;
    fn group(&self, group: u32) -> StageGroup {
        StageGroup {
            level: self.level,
            group,
        }
    }
}

/// How records are sent to the groups of one keyed stage.
pub(crate) struct Exchange<'a, C> {
    /// The calls, addressed to the stage's services.
    pub calls: &'a C,
    /// The most bytes one call carries.
    pub budget: usize,
    /// How many times a failing record is tried.
    pub attempts: u32,
    /// The watermark the groups judge the records by (`None`: each its own).
    pub watermark: Option<Millis>,
    /// Whether the groups answer what they make for the next stage, for
    /// the caller to carry there ([`KeyedBatch::relay`]).
    pub relay: bool,
    /// How records are written ([`crate::PipelineConfig::binary_records`]).
    pub encoding: Encoding,
}

/// A record that did not reach its group, with where it came from (a
/// source position, or 0 for a record of another stage).
#[derive(Debug, PartialEq)]
pub(crate) enum Unsent {
    /// Larger than one call may carry.
    TooLarge { origin: u64, reason: String },
    /// Failed at its group on every attempt.
    Failed {
        origin: u64,
        error: String,
        record: Option<serde_json::Value>,
    },
    /// A call failed without naming a record: every record it carried.
    Call { origins: Vec<u64>, error: String },
}

impl Unsent {
    /// For its dead letter: the origin (the least of a call's), how many
    /// records, why, and the record when it is known.
    pub(crate) fn into_parts(self) -> (Option<u64>, usize, String, Option<serde_json::Value>) {
        match self {
            Unsent::TooLarge { origin, reason } => (Some(origin), 1, reason, None),
            Unsent::Failed {
                origin,
                error,
                record,
            } => (Some(origin), 1, error, record),
            Unsent::Call { origins, error } => {
                (origins.iter().copied().min(), origins.len(), error, None)
            }
        }
    }
}

/// What the groups answered, and what never reached them.
pub(crate) struct Delivered<T> {
    pub answer: Answer<T>,
    pub unsent: Vec<Unsent>,
}

/// A group's records of one call, with the origin of each.
struct Batch<M> {
    batch: KeyedBatch<M>,
    origins: Vec<u64>,
}

impl<C: Calls> Exchange<'_, C> {
    /// Sends every group its records, in order, and gathers the answers.
    /// The calls go in waves: the first call of every group, all issued
    /// before any is awaited, then the second, so that a group applies its
    /// records in order while the groups work in parallel.
    pub(crate) async fn deliver<N: Stage>(
        &self,
        stage: &N,
        groups: BTreeMap<u32, Vec<(N::Mid, u64)>>,
    ) -> Delivered<N::Final> {
        let mut delivered = Delivered {
            answer: Answer::default(),
            unsent: Vec::new(),
        };
        let mut waves: Vec<BTreeMap<u32, Batch<N::Mid>>> = Vec::new();
        for (group, records) in groups {
            let (encoding, cut) = cut_records(records, self.budget, self.encoding, |(mid, _)| mid);
            for ((_, origin), bytes) in cut.too_large {
                let reason = too_large_reason(bytes, self.budget);
                delivered.unsent.push(Unsent::TooLarge { origin, reason });
            }
            let single = cut.calls.len() == 1;
            for (wave, call) in cut.calls.into_iter().enumerate() {
                let (records, origins) = call.into_iter().unzip();
                let watermark = self.watermark;
                let batch = Batch {
                    batch: KeyedBatch {
                        watermark,
                        records,
                        // Only a group whose records go in one call relays:
                        // one of several calls that fell back to calling the
                        // next stage itself would overtake those relayed.
                        relay: self.relay && single,
                        encoding,
                    },
                    origins,
                };
                match waves.get_mut(wave) {
                    Some(calls) => {
                        calls.insert(group, batch);
                    }
                    None => waves.push(BTreeMap::from([(group, batch)])),
                }
            }
        }
        for wave in waves {
            self.wave(stage, wave, &mut delivered).await;
        }
        delivered
    }

    /// Calls each group of a wave with its batch, all issued before any is
    /// awaited (the SDK's futures must not be polled concurrently, as
    /// `join_all` would); a group that reports a failing record is called
    /// again.
    async fn wave<N: Stage>(
        &self,
        stage: &N,
        groups: BTreeMap<u32, Batch<N::Mid>>,
        into: &mut Delivered<N::Final>,
    ) {
        let calls: Vec<_> = groups
            .iter()
            .map(|(group, sent)| self.call(stage, *group, &sent.batch))
            .collect();
        let mut failed = Vec::new();
        for ((group, batch), call) in groups.into_iter().zip(calls) {
            match call.await {
                Ok(answer) => gather(&mut into.answer, answer),
                Err(error) => failed.push((group, batch, error)),
            }
        }
        for (group, batch, error) in failed {
            self.retry(stage, group, batch, error, into).await;
        }
    }

    /// Issues a group's call; the answer is awaited by the returned future.
    /// A batch that cannot be encoded fails the call, not a retry loop.
    fn call<N: Stage>(
        &self,
        stage: &N,
        group: u32,
        batch: &KeyedBatch<N::Mid>,
    ) -> impl std::future::Future<Output = Result<Answer<N::Final>, BatchFailed>> + '_ {
        let call = self.calls.call::<N::Call>(stage.group(group), batch);
        async move {
            match call {
                Ok(call) => open(BatchAnswer::settle(call.await)?),
                Err(error) => Err(BatchFailed::Call(TerminalError::new(format!(
                    "cannot serialize the batch for its key group: {error}"
                )))),
            }
        }
    }

    /// Calls a group again after `error`, setting apart a record that
    /// failed `attempts` times. An error that names no record sets apart
    /// the whole call.
    async fn retry<N: Stage>(
        &self,
        stage: &N,
        group: u32,
        mut sent: Batch<N::Mid>,
        mut error: BatchFailed,
        into: &mut Delivered<N::Final>,
    ) {
        let mut attempt = 1;
        loop {
            let Some(failure) = error.record(sent.batch.records.len()).cloned() else {
                into.unsent.push(Unsent::Call {
                    origins: sent.origins,
                    error: error.message().to_owned(),
                });
                return;
            };
            if attempt >= self.attempts {
                let record = sent.batch.records.remove(failure.index);
                let origin = sent.origins.remove(failure.index);
                into.unsent.push(Unsent::Failed {
                    origin,
                    error: format!("{} (after {attempt} attempts)", failure.error),
                    record: serde_json::to_value(&record).ok(),
                });
                attempt = 0;
                if sent.batch.records.is_empty() {
                    return;
                }
            }
            attempt += 1;
            match self.call(stage, group, &sent.batch).await {
                Ok(answer) => {
                    gather(&mut into.answer, answer);
                    return;
                }
                Err(next) => error = next,
            }
        }
    }
}

/// Adds a group's answer to the others'.
fn gather<T>(into: &mut Answer<T>, answer: Answer<T>) {
    into.out.extend(answer.out);
    into.needs.extend(answer.needs);
    into.passed.extend(answer.passed);
}

/// A key group's output, decoded.
fn open<T: Message>(answer: Encoded<T>) -> Result<T, BatchFailed> {
    answer.open().map_err(|e| {
        let error = format!("cannot decode the key group's output: {e}");
        BatchFailed::Call(TerminalError::new(error))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::Pipeline;
    use crate::round::fake::FakeCalls;
    use crate::sink::CollectSink;
    use crate::source::Sequence;
    use crate::stages::Dataflow;
    use crate::testing::{block_on, stages};

    /// A latest-value stage of strings.
    fn latest() -> impl Dataflow<Mid = String, Out = String> {
        stages(
            Pipeline::named("T")
                .source(Sequence::new().take(10))
                .map(|n| n.to_string())
                .key_by(|s| s.len())
                .reduce(|_, b| b),
            CollectSink::<String>::new(),
        )
    }

    /// Sends `groups` to `flow`'s first stage under a 200-byte call limit,
    /// each record tried at most twice, at watermark 4,999.
    fn deliver<D: Dataflow>(
        _flow: &D,
        calls: &FakeCalls,
        groups: BTreeMap<u32, Vec<(D::Mid, u64)>>,
    ) -> Delivered<D::Out> {
        let exchange = Exchange {
            calls,
            budget: 200,
            attempts: 2,
            watermark: Some(4_999),
            relay: false,
            encoding: Encoding::Json,
        };
        block_on(exchange.deliver(&Typed::<D::First>::new(), groups))
    }

    /// The first stage of `flow`, as the exchange calls it.
    fn first_of<D: Dataflow>(_flow: &D) -> Typed<D::First> {
        Typed::new()
    }

    /// Six records of 43 bytes for each of two groups.
    fn two_groups() -> BTreeMap<u32, Vec<(String, u64)>> {
        let records = |from: u64| (from..from + 6).map(|n| (format!("{n:0>41}"), n)).collect();
        BTreeMap::from([(0, records(0)), (1, records(10))])
    }

    /// Relaying, only a group whose records go in one call is asked to
    /// relay: a group in several calls passes its output on itself in each,
    /// so none of its calls' output overtakes another's.
    #[test]
    fn only_a_group_in_one_call_relays() {
        let calls = FakeCalls::new(|_, _| Ok(br#"{"out":[]}"#.to_vec()));
        let exchange = Exchange {
            calls: &calls,
            budget: 200,
            attempts: 2,
            watermark: None,
            relay: true,
            encoding: Encoding::Json,
        };
        let mut groups = two_groups();
        groups.insert(2, vec![("short".to_owned(), 99)]);
        block_on(exchange.deliver(&first_of(&latest()), groups));
        let lines = calls.lines("call TKeyed/");
        let relaying: Vec<&str> = (lines.iter())
            .filter(|l| l.contains(r#""relay":true"#))
            .map(|l| &l["call TKeyed/".len()..][..1])
            .collect();
        assert_eq!(relaying, ["2"], "{lines:?}");
        assert!(lines.len() > 3, "{lines:?}");
    }

    /// Each call stays under the limit and carries the watermark; a
    /// group's second call goes after the first calls of all groups.
    #[test]
    fn every_call_carries_the_watermark_and_fits_the_limit_in_waves() {
        let calls = FakeCalls::new(|_, _| Ok(br#"{"out":[]}"#.to_vec()));
        let delivered = deliver(&latest(), &calls, two_groups());
        assert!(delivered.unsent.is_empty());
        let lines = calls.lines("call TKeyed/");
        assert!(lines.len() >= 4, "{lines:?}");
        for line in &lines {
            let body = line.splitn(3, ' ').nth(2).unwrap_or_default();
            assert!(body.len() <= 200, "{} bytes: {body}", body.len());
            assert!(body.contains(r#""watermark":4999"#), "{body}");
        }
        let groups: Vec<&str> = lines
            .iter()
            .map(|l| &l["call TKeyed/".len()..][..1])
            .collect();
        assert_eq!(
            groups[..2],
            ["0", "1"],
            "the first wave calls each group once"
        );
    }

    /// A call that fails without naming a record gives back the origins
    /// of every record it carried; one that names a record has it tried
    /// again, then set apart, and the rest delivered.
    #[test]
    fn what_cannot_be_delivered_is_answered_with_its_origins() {
        let calls = FakeCalls::new(|address, body| {
            let body = String::from_utf8_lossy(body);
            match address {
                "TKeyed/0/process" => Err(TerminalError::new("group 0 is broken")),
                _ if body.contains("00000000000000000000000000000000000000012") => {
                    let failed = crate::guard::RecordFailed {
                        index: 2,
                        error: "no twelve".into(),
                    };
                    BatchAnswer::<()>::RecordFailed(failed)
                        .encode()
                        .map_err(|e| TerminalError::new(e.to_string()))
                }
                _ => Ok(br#"{"out":[]}"#.to_vec()),
            }
        });
        let delivered = deliver(&latest(), &calls, two_groups());
        let mut origins = Vec::new();
        let mut failed = Vec::new();
        for unsent in delivered.unsent {
            match unsent {
                Unsent::Call { origins: o, .. } => origins.extend(o),
                Unsent::Failed { origin, error, .. } => failed.push((origin, error)),
                Unsent::TooLarge { .. } => panic!("nothing is too large"),
            }
        }
        origins.sort_unstable();
        assert_eq!(origins, [0, 1, 2, 3, 4, 5], "group 0's records, each once");
        assert_eq!(failed, [(12, "no twelve (after 2 attempts)".to_owned())]);
        let retried = calls.lines("call TKeyed/1/process");
        assert_eq!(
            retried.len(),
            4,
            "two calls, the first tried twice, then without 12: {retried:?}"
        );
        assert!(!retried[3].contains("00012"), "{}", retried[3]);
    }
}
