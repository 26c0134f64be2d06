//! The round against a fake of Restate (`fake.rs`): what it reads, calls,
//! writes and dead-letters.

use restate_sdk::errors::TerminalError;

use super::fake::FakeCalls;
use super::*;
use crate::builder::Pipeline;
use crate::guard::RecordFailed;
use crate::protocol::{BatchAnswer, Dry, Message};
use crate::sink::CollectSink;
use crate::source::Sequence;
use crate::testing::{block_on, stages};
use crate::time::Watermarks;

/// A keyed sum over `0..records` in 2 splits, batches of 4, 2 groups.
fn summing(records: u64) -> impl Dataflow<Mid = u64, Out = u64> {
    stages(
        Pipeline::named("T")
            .batch_size(4)
            .key_groups(2)
            .max_attempts(2)
            .source(Sequence::new().take(records).with_splits(2))
            .key_by(|n| n % 3)
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    )
}

fn json<T: serde::Serialize>(value: T) -> Result<Vec<u8>, TerminalError> {
    serde_json::to_vec(&value).map_err(|e| TerminalError::new(e.to_string()))
}

/// A key group's or the sink's answer that record `index` failed.
fn record_failed(index: usize, error: &str) -> Result<Vec<u8>, TerminalError> {
    failed(BatchAnswer::RecordFailed, index, error)
}

/// The sink's answer that it rejected record `index` and wrote those
/// before it.
fn wrote_before(index: usize, error: &str) -> Result<Vec<u8>, TerminalError> {
    failed(BatchAnswer::WroteBefore, index, error)
}

/// The bytes of the failure answer `kind` for record `index`.
fn failed(
    kind: fn(RecordFailed) -> BatchAnswer<()>,
    index: usize,
    error: &str,
) -> Result<Vec<u8>, TerminalError> {
    let error = error.to_owned();
    kind(RecordFailed { index, error })
        .encode()
        .map_err(|e| TerminalError::new(e.to_string()))
}

/// What the fake key group answers: the batch's records, unchanged.
fn records_of(body: &str) -> Vec<u8> {
    let batch: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    serde_json::json!({ "out": batch["records"] })
        .to_string()
        .into_bytes()
}

fn token(id: u64) -> Token {
    Token::new(id, None)
}

#[test]
fn a_token_moves_to_the_next_split_then_parks_when_all_are_exhausted() {
    let flow = summing(100);
    let calls = FakeCalls::new(|address, _| match address {
        "TSplit/1/next" => json(Lease {
            from: 0,
            count: 0,
            dry: None,
            records: None,
        }),
        "TSplit/0/next" => json(Lease {
            from: 8,
            count: 4,
            dry: None,
            records: None,
        }),
        _ => json(Vec::<u64>::new()),
    });
    // Token 1 starts at split 1, which is exhausted, and moves to split 0.
    assert_eq!(block_on(run(&flow, &calls, token(1))), Outcome::Continued);
    let leases = calls.lines("call TSplit/");
    assert_eq!(leases, ["call TSplit/1/next 4", "call TSplit/0/next 4"]);
    assert_eq!(calls.lines("send TSource/ingest").len(), 1);

    let calls = FakeCalls::new(|_, _| {
        json(Lease {
            from: 0,
            count: 0,
            dry: None,
            records: None,
        })
    });
    assert_eq!(block_on(run(&flow, &calls, token(0))), Outcome::Parked);
    assert_eq!(calls.lines("send TControl/pipeline/park").len(), 1);
    assert!(calls.lines("send TSource/ingest").is_empty());
}

/// One token over three splits that all have data: it leases from each in
/// turn, rather than from its own split for as long as that one has data.
#[test]
fn one_token_goes_round_every_split_with_data() {
    let flow = stages(
        Pipeline::named("T")
            .batch_size(4)
            .source(Sequence::new().with_splits(3))
            .key_by(|n| n % 3)
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    );
    let mut token = Token {
        peers: Some(1),
        ..token(0)
    };
    let mut leased = Vec::new();
    for _ in 0..7 {
        let calls = FakeCalls::new(|address, body| match address {
            a if a.ends_with("/next") => json(Lease {
                from: 0,
                count: 4,
                dry: None,
                records: None,
            }),
            a if a.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
            _ => json(4u64),
        });
        assert_eq!(block_on(run(&flow, &calls, token)), Outcome::Continued);
        leased.extend(calls.lines("call TSplit/"));
        let sent = calls.lines("send TSource/ingest ");
        let body = sent[0].trim_start_matches("send TSource/ingest ");
        token = serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
    }
    let splits: Vec<&str> = leased
        .iter()
        .map(|l| &l["call TSplit/".len()..][..1])
        .collect();
    assert_eq!(splits, ["0", "1", "2", "0", "1", "2", "0"]);
}

/// Where a token asks first each round: tokens injected together, as many
/// as the splits or a divisor of them, keep to splits of their own (each
/// split read in order); fewer go round them all.
#[test]
fn tokens_injected_together_keep_to_their_own_splits_or_share_them_all() {
    let orbit = |id: u64, peers: u64, splits: u32| -> Vec<u32> {
        let mut token = Token {
            peers: Some(peers),
            ..token(id)
        };
        (0..6)
            .map(|_| {
                let first = token.first_split(splits);
                token.cursor = token.next_split(first, splits);
                first
            })
            .collect()
    };
    assert_eq!(orbit(1, 2, 2), [1, 1, 1, 1, 1, 1], "as many as the splits");
    assert_eq!(orbit(0, 2, 4), [0, 2, 0, 2, 0, 2], "a divisor of them");
    assert_eq!(orbit(1, 2, 4), [1, 3, 1, 3, 1, 3]);
    assert_eq!(orbit(3, 4, 2), [1, 1, 1, 1, 1, 1], "more than the splits");
    assert_eq!(orbit(0, 2, 3), [0, 2, 1, 0, 2, 1], "every split, in turn");
    // A token of an earlier version keeps to its own split.
    let older = token(5);
    assert_eq!((older.first_split(3), older.next_split(2, 3)), (2, None));
}

#[test]
fn a_token_with_no_data_anywhere_waits_longer_each_time_and_reports_idle_splits() {
    let flow = stages(
        Pipeline::named("T")
            .batch_size(4)
            .source(Sequence::new().with_splits(2))
            .event_time(|n| *n as i64, Watermarks::max_delay(Duration::ZERO))
            .key_by(|n| **n % 3)
            .window(crate::window::tumbling(Duration::from_secs(1)))
            .aggregate(0u64, |count, _n| *count += 1),
        CollectSink::new(),
    );
    let calls = FakeCalls::new(|address, _| {
        let idle = address == "TSplit/1/next";
        let dry = Some(Dry::Waiting { idle });
        json(Lease {
            from: 7,
            count: 0,
            dry,
            records: None,
        })
    });
    let token = Token {
        idle: 3,
        ..token(0)
    };
    assert_eq!(block_on(run(&flow, &calls, token)), Outcome::Waiting);
    let sent = calls.lines("send TSource/ingest");
    assert_eq!(
        sent,
        [r#"send TSource/ingest {"id":0,"idle":4} after 400ms"#]
    );
    let reports = calls.lines("send TClock/pipeline/report");
    assert_eq!(
        reports,
        [r#"send TClock/pipeline/report {"split":1,"event":{"idle":{"at":7}}}"#]
    );
    assert_eq!(idle_wait(0), IDLE_WAIT_FIRST);
    assert_eq!(idle_wait(40), IDLE_WAIT_MAX);
}

#[test]
fn a_token_from_another_layout_halts_before_leasing() {
    let flow = summing(100);
    let calls = FakeCalls::new(|_, _| {
        json(Lease {
            from: 0,
            count: 4,
            dry: None,
            records: None,
        })
    });
    let mut theirs = layout(&flow);
    theirs.key_groups = 8;
    let token = Token::new(0, Some(theirs));
    let Outcome::Halted(reason) = block_on(run(&flow, &calls, token)) else {
        panic!("expected a halt");
    };
    assert!(
        reason.contains("2 key groups where its state has 8"),
        "{reason}"
    );
    assert!(calls.lines("call").is_empty(), "it touched nothing");
    assert_eq!(calls.lines("send TControl/pipeline/halt").len(), 1);
}

#[test]
fn a_failing_record_is_retried_then_dead_lettered_and_the_rest_written() {
    let flow = summing(100);
    // Split 0's positions 8..12 hold 16, 18, 20 and 22. A group's call
    // fails on its record 0 while that is 16 (at position 8); everything
    // else succeeds.
    let calls = FakeCalls::new(|address, body| {
        let body = String::from_utf8_lossy(body);
        match address {
            "TSplit/0/next" => json(Lease {
                from: 8,
                count: 4,
                dry: None,
                records: None,
            }),
            group if group.starts_with("TKeyed/") && body.contains(r#"[16"#) => {
                record_failed(0, "panicked: boom")
            }
            group if group.starts_with("TKeyed/") => Ok(records_of(&body)),
            _ => json(()),
        }
    });
    assert_eq!(block_on(run(&flow, &calls, token(0))), Outcome::Continued);
    let letters = calls.lines("send TControl/pipeline/deadLetter");
    assert_eq!(letters.len(), 1, "{:?}", calls.lines(""));
    assert!(
        letters[0].contains(r#""position":8"#) && letters[0].contains("after 2 attempts"),
        "{letters:?}"
    );
    // The rest of 16's group went through, and the sink got every other
    // record.
    let writes = calls.lines("call TSink/0/write");
    assert_eq!(writes, ["call TSink/0/write [18,20,22]"]);
}

#[test]
fn a_sink_write_that_fails_dead_letters_its_batch_and_the_token_goes_on() {
    let flow = summing(100);
    let calls = FakeCalls::new(|address, body| match address {
        "TSplit/0/next" => json(Lease {
            from: 0,
            count: 4,
            dry: None,
            records: None,
        }),
        "TSink/0/write" => Err(TerminalError::new("disk full")),
        group if group.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
        _ => Ok(body.to_vec()),
    });
    assert_eq!(block_on(run(&flow, &calls, token(0))), Outcome::Continued);
    let letters = calls.lines("send TControl/pipeline/deadLetter");
    assert_eq!(letters.len(), 1);
    assert!(letters[0].contains(r#""stage":"sink""#) && letters[0].contains("disk full"));
    assert_eq!(calls.lines("send TSource/ingest").len(), 1);
}

#[test]
fn a_record_the_sink_rejects_is_dead_lettered_and_those_after_it_written_again() {
    let writes = rejected_at_2(wrote_before);
    assert_eq!(
        writes,
        ["call TSink/0/write [4,0,2,6]", "call TSink/0/write [6]"],
        "the sink wrote the records before the one it rejected"
    );
}

#[test]
fn a_sink_of_an_earlier_version_that_rejects_a_record_gets_all_the_others_again() {
    let writes = rejected_at_2(record_failed);
    assert_eq!(
        writes,
        ["call TSink/0/write [4,0,2,6]", "call TSink/0/write [4,0,6]"]
    );
}

/// The sink writes of a round whose sink rejects the record 2 with
/// `answer`; its dead letter checked.
fn rejected_at_2(answer: fn(usize, &str) -> Result<Vec<u8>, TerminalError>) -> Vec<String> {
    let flow = summing(100);
    // The sink refuses the record 2, naming its index in the batch.
    let calls = FakeCalls::new(move |address, body| {
        let at = |n: u64| {
            let batch: Vec<u64> = serde_json::from_slice(body).unwrap_or_default();
            batch.iter().position(|m| *m == n)
        };
        let body = String::from_utf8_lossy(body);
        match address {
            "TSplit/0/next" => json(Lease {
                from: 0,
                count: 4,
                dry: None,
                records: None,
            }),
            "TSink/0/write" if at(2).is_some() => {
                answer(at(2).unwrap_or_default(), "violates check constraint")
            }
            group if group.starts_with("TKeyed/") => Ok(records_of(&body)),
            _ => json(()),
        }
    });
    assert_eq!(block_on(run(&flow, &calls, token(0))), Outcome::Continued);
    let letters = calls.lines("send TControl/pipeline/deadLetter");
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].contains(r#""count":1"#)
            && letters[0].contains(r#""record":2"#)
            && letters[0].contains("violates check constraint"),
        "{letters:?}"
    );
    calls.lines("call TSink/0/write")
}

#[test]
fn large_records_go_in_calls_under_the_byte_limit_and_one_too_large_is_dead_lettered() {
    // Records of 300 bytes, and one of 2,000 at position 3, in calls of
    // at most 1 KiB, all to one group.
    let flow = stages(
        Pipeline::named("T")
            .batch_size(10)
            .key_groups(1)
            .max_call_bytes(1024)
            .source(Sequence::new().take(10))
            .map(|n| format!("{n}{}", "x".repeat(if n == 3 { 2_000 } else { 300 })))
            .key_by(|_| 0u8)
            .reduce(|_, b| b),
        CollectSink::<String>::new(),
    );
    let calls = FakeCalls::new(|address, body| match address {
        "TSplit/0/next" => json(Lease {
            from: 0,
            count: 10,
            dry: None,
            records: None,
        }),
        group if group.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
        _ => json(()),
    });
    assert_eq!(block_on(run(&flow, &calls, token(0))), Outcome::Continued);
    let sent = |prefix: &str| -> Vec<String> {
        let mut records = Vec::new();
        for line in calls.lines(prefix) {
            let body = line.splitn(3, ' ').nth(2).unwrap_or_default().to_owned();
            assert!(body.len() <= 1024, "a call of {} bytes", body.len());
            let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let batch = value.get("records").cloned().unwrap_or(value);
            for record in batch.as_array().cloned().unwrap_or_default() {
                let record = record.as_str().unwrap_or_default().to_owned();
                records.push(record.trim_end_matches('x').to_owned());
            }
        }
        records
    };
    let everyone_but_3 = ["0", "1", "2", "4", "5", "6", "7", "8", "9"];
    assert!(calls.lines("call TKeyed/0/process").len() >= 3);
    assert_eq!(sent("call TKeyed/0/process"), everyone_but_3, "in order");
    assert!(calls.lines("call TSink/0/write").len() >= 3);
    assert_eq!(sent("call TSink/0/write"), everyone_but_3, "in order");
    let letters = calls.lines("send TControl/pipeline/deadLetter");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0].contains(r#""position":3"#)
            && letters[0].contains("more than the 1024 bytes one call may carry"),
        "{letters:?}"
    );
}

/// A sum per `n % 3` emitting its latest value per batch over `0..12`,
/// as `(key, sum)`, in one group; a fold with 7 panics.
fn summing_latest(combine: bool) -> impl Dataflow<Mid = (u64, u64), Out = (u64, u64)> {
    stages(
        Pipeline::named("T")
            .batch_size(12)
            .key_groups(1)
            .combine_before_shuffle(combine)
            .source(Sequence::new().take(12))
            .map(|n| (n % 3, n))
            .key_by(|(key, _)| *key)
            .reduce_emitting(
                |(key, a), (_, b)| {
                    assert!(b != 7, "seven");
                    (key, a + b)
                },
                crate::keyed::Emit::LatestPerBatch,
            ),
        CollectSink::<(u64, u64)>::new(),
    )
}

#[test]
fn a_reduce_emitting_per_batch_sends_its_group_one_partial_per_key() {
    let calls_for = |combine| {
        let calls = FakeCalls::new(|address, body| match address {
            "TSplit/0/next" => json(Lease {
                from: 0,
                count: 12,
                dry: None,
                records: None,
            }),
            group if group.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
            _ => json(()),
        });
        assert_eq!(
            block_on(run(&summing_latest(combine), &calls, token(0))),
            Outcome::Continued
        );
        calls.lines("call TKeyed/0/process")
    };
    // Key 0: 0+3+6+9; key 2: 2+5+8+11; key 1 folds 1+4, then 7 panics
    // in the fold and stays a record of its own, and 10 follows it.
    let combined = calls_for(true);
    assert_eq!(combined.len(), 1);
    assert!(
        combined[0].contains(r#""records":[[0,18],[1,5],[2,26],[1,7],[1,10]]"#),
        "{combined:?}"
    );
    let every = calls_for(false);
    assert!(
        every[0].contains(
            r#""records":[[0,0],[1,1],[2,2],[0,3],[1,4],[2,5],[0,6],[1,7],[2,8],[0,9],[1,10],[2,11]]"#
        ),
        "{every:?}"
    );
}

#[test]
fn a_branch_is_written_after_the_main_output_at_its_own_partitions() {
    let (raw, counts) = (CollectSink::<u64>::new(), CollectSink::<(u64, u64)>::new());
    let flow = crate::testing::branched(
        Pipeline::named("T")
            .batch_size(4)
            .key_groups(2)
            .source(Sequence::new().take(100).with_splits(2))
            .map(|n| (n % 3, n))
            .branch(|all| all.map(|(_, n)| n * 10).sink(raw.clone()))
            .key_by(|(key, _)| *key)
            .reduce(|(key, a), (_, b)| (key, a + b)),
        counts,
    );
    assert_eq!(layout(&flow).branch_partitions, 1);
    let calls = FakeCalls::new(|address, body| {
        let body = String::from_utf8_lossy(body).into_owned();
        match address {
            "TSplit/0/next" => json(Lease {
                from: 8,
                count: 4,
                dry: None,
                records: None,
            }),
            group if group.starts_with("TKeyed/") => Ok(records_of(&body)),
            _ => json(()),
        }
    });
    assert_eq!(block_on(run(&flow, &calls, token(0))), Outcome::Continued);
    // The branch's records go to partition 1, after the main sink's one,
    // through `writeSide`, after the main output's write.
    let writes = calls.lines("call TSink/");
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes[0].starts_with("call TSink/0/write "), "{writes:?}");
    // Split 0 holds the even numbers: positions 8..12 are 16..22.
    assert_eq!(writes[1], "call TSink/1/writeSide [160,180,200,220]");
}

/// The one dead letter the fake was sent.
fn the_one_letter(calls: &FakeCalls) -> DeadLetter {
    let prefix = "send TControl/pipeline/deadLetter ";
    let letters = calls.lines(prefix);
    let [letter] = &letters[..] else {
        panic!("one dead letter, not {letters:?}")
    };
    serde_json::from_str(letter.trim_start_matches(prefix))
        .unwrap_or_else(|e| panic!("{e}: {letter}"))
}

/// Replays `letter` through the fake, whose reads do not fail.
fn replays<D: Dataflow>(flow: &D, calls: &FakeCalls, letter: DeadLetter) -> bool {
    block_on(replay(flow, calls, calls, letter)).unwrap_or_else(|e| panic!("replay: {e}"))
}

fn letter(record: serde_json::Value) -> DeadLetter {
    DeadLetter {
        split: 1,
        position: 7,
        count: 1,
        stage: FailedStage::Keyed,
        error: "panicked: boom (after 2 attempts)".to_owned(),
        record: Some(record),
    }
}

/// A replayed letter's record goes to its key's group at the first keyed
/// stage, once, and what the group gives is written to the sink.
#[test]
fn a_replayed_record_reaches_its_group_and_its_result_the_sink() {
    let flow = summing(100);
    let calls = FakeCalls::new(|address, body| match address {
        a if a.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
        _ => json(()),
    });
    assert!(replays(&flow, &calls, letter(serde_json::json!(7))));
    // 7 % 3 is key 1, in group key_group("1", 2).
    let group = crate::group::key_group("1", flow.config().key_groups);
    let keyed = calls.lines("call TKeyed/");
    assert_eq!(
        keyed,
        [format!("call TKeyed/{group}/process {{\"records\":[7]}}")]
    );
    assert_eq!(calls.lines("call TSink/"), ["call TSink/0/write [7]"]);
    assert!(calls.lines("send TControl/pipeline/deadLetter").is_empty());
}

/// A record that no longer decodes as the stage's input (its type changed)
/// is not lost: it is a dead letter again, saying why.
#[test]
fn a_replayed_record_that_does_not_decode_is_a_dead_letter_again() {
    let flow = summing(100);
    let calls = FakeCalls::new(|_, _| json(()));
    assert!(!replays(&flow, &calls, letter(serde_json::json!("seven"))));
    assert!(calls.lines("call TKeyed/").is_empty());
    let again = the_one_letter(&calls);
    assert_eq!(
        (again.split, again.position, again.record),
        (1, 7, Some(serde_json::json!("seven")))
    );
    assert!(
        again
            .error
            .starts_with("replayed: the record does not decode"),
        "{}",
        again.error
    );
}

fn sink_letter(stage: FailedStage, record: serde_json::Value) -> DeadLetter {
    DeadLetter {
        stage,
        error: "rejected: no such table".to_owned(),
        ..letter(record)
    }
}

/// A record the sink rejected is written again, to the partition a token
/// of its split routes it to, and to no key group.
#[test]
fn a_replayed_sink_letter_is_written_to_the_sink_again() {
    let flow = summing(100);
    let calls = FakeCalls::new(|_, _| json(()));
    let timers = FailedStage::TimersSink { stage: 1, group: 0 };
    for stage in [FailedStage::Sink, timers] {
        assert!(replays(
            &flow,
            &calls,
            sink_letter(stage, serde_json::json!(42))
        ));
    }
    assert_eq!(
        calls.lines("call TSink/"),
        ["call TSink/0/write [42]", "call TSink/0/write [42]"]
    );
    assert!(calls.lines("call TKeyed/").is_empty());
    assert!(calls.lines("send TControl/pipeline/deadLetter").is_empty());
}

/// A branch's letter goes back to the branch's sink (`writeSide`, at its
/// partitions after the main sink's), not to the main one.
#[test]
fn a_replayed_branch_letter_is_written_to_the_branchs_sink() {
    let (raw, counts) = (CollectSink::<u64>::new(), CollectSink::<(u64, u64)>::new());
    let flow = crate::testing::branched(
        Pipeline::named("T")
            .key_groups(2)
            .source(Sequence::new().take(100))
            .map(|n| (n % 3, n))
            .branch(|all| all.map(|(_, n)| n * 10).sink(raw.clone()))
            .key_by(|(key, _)| *key)
            .reduce(|(key, a), (_, b)| (key, a + b)),
        counts,
    );
    let calls = FakeCalls::new(|_, _| json(()));
    let letter = sink_letter(FailedStage::BranchSink, serde_json::json!(70));
    assert!(replays(&flow, &calls, letter));
    assert_eq!(calls.lines("call TSink/"), ["call TSink/1/writeSide [70]"]);
}

/// A sink that rejects the record again keeps it: a new dead letter of
/// the same stage, saying it was replayed.
#[test]
fn a_sink_letter_rejected_again_is_a_dead_letter_again() {
    let flow = summing(100);
    let calls = FakeCalls::new(|address, _| match address {
        "TSink/0/write" => record_failed(0, "rejected: no such table"),
        _ => json(()),
    });
    let letter = sink_letter(FailedStage::Sink, serde_json::json!(42));
    assert!(!replays(&flow, &calls, letter));
    let again = the_one_letter(&calls);
    assert_eq!(
        (again.stage, again.record),
        (FailedStage::Sink, Some(serde_json::json!(42)))
    );
    assert_eq!(again.error, "replayed: rejected: no such table");
}

/// A keyed sum over `0..100` in 2 splits whose `map` before `key_by`
/// panics on the number `bad` holds.
fn failing_before_key(
    bad: &'static std::sync::atomic::AtomicU64,
) -> impl Dataflow<Mid = u64, Out = u64> {
    stages(
        Pipeline::named("T")
            .key_groups(2)
            .max_attempts(2)
            .source(Sequence::new().take(100).with_splits(2))
            .map(move |n| {
                assert_ne!(n, bad.load(std::sync::atomic::Ordering::Relaxed), "bad");
                n
            })
            .key_by(|n| n % 3)
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    )
}

fn before_key_letter() -> DeadLetter {
    DeadLetter {
        stage: FailedStage::BeforeKey,
        record: None,
        ..letter(serde_json::json!(null))
    }
}

/// A record that failed before `key_by` is read again at its position
/// (split 1's position 7 holds 15), through the fixed `map` to its group,
/// and its result written.
#[test]
fn a_letter_from_before_key_by_is_read_again_and_goes_on() {
    static FIXED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);
    let flow = failing_before_key(&FIXED);
    let calls = FakeCalls::new(|address, body| match address {
        a if a.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
        _ => json(()),
    });
    assert!(replays(&flow, &calls, before_key_letter()));
    let group = crate::group::key_group("0", flow.config().key_groups);
    assert_eq!(
        calls.lines("call TKeyed/"),
        [format!("call TKeyed/{group}/process {{\"records\":[15]}}")]
    );
    assert_eq!(calls.lines("call TSink/"), ["call TSink/0/write [15]"]);
    assert!(calls.lines("call TSplit/").is_empty(), "no lease");
    assert!(calls.lines("send TControl/pipeline/deadLetter").is_empty());
}

/// Still failing, it is a dead letter again at the same position.
#[test]
fn a_letter_from_before_key_by_that_fails_again_is_kept() {
    static BAD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(15);
    let flow = failing_before_key(&BAD);
    let calls = FakeCalls::new(|_, _| json(()));
    assert!(!replays(&flow, &calls, before_key_letter()));
    assert!(calls.lines("call TKeyed/").is_empty());
    let again = the_one_letter(&calls);
    assert_eq!(
        (again.split, again.position, again.stage),
        (1, 7, FailedStage::BeforeKey)
    );
    assert!(again.error.starts_with("replayed: "), "{}", again.error);
}

/// A source like a Kafka partition with markers: only the even positions
/// hold a record, the position itself, which says where it was read.
struct EvenOnly;

impl crate::source::Source for EvenOnly {
    type Item = u64;

    fn position_of(&self, item: &u64) -> Option<u64> {
        Some(*item)
    }

    async fn read(&self, _: u32, position: u64, max: usize) -> std::io::Result<Vec<u64>> {
        let end = (position + max as u64).min(20);
        Ok((position..end).filter(|p| p % 2 == 0).collect())
    }

    fn is_bounded(&self) -> bool {
        true
    }
}

/// A record that fails after positions with no record is dead-lettered
/// at its own position, not at its index in the range, and a replay reads
/// it there: the record 6 of the range 0..10 (the fourth read), replayed
/// after the fix, is 6 again.
#[test]
fn a_letter_names_the_position_its_record_was_read_at_past_positions_without_one() {
    static BAD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(6);
    let flow = stages(
        Pipeline::named("T")
            .key_groups(2)
            .max_attempts(1)
            .source(EvenOnly)
            .map(|n| {
                assert_ne!(n, BAD.load(std::sync::atomic::Ordering::Relaxed), "bad");
                n
            })
            .key_by(|n| n % 3)
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    );
    let calls = FakeCalls::new(|address, body| match address {
        "TSplit/0/next" => json(Lease {
            from: 0,
            count: 10,
            dry: None,
            records: None,
        }),
        a if a.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
        _ => json(()),
    });
    assert_eq!(block_on(run(&flow, &calls, token(0))), Outcome::Continued);
    let letter = the_one_letter(&calls);
    assert_eq!(
        (letter.stage.clone(), letter.position),
        (FailedStage::BeforeKey, 6)
    );

    BAD.store(u64::MAX, std::sync::atomic::Ordering::Relaxed);
    let calls = FakeCalls::new(|address, body| match address {
        a if a.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
        _ => json(()),
    });
    assert!(replays(&flow, &calls, letter));
    let group = crate::group::key_group("0", flow.config().key_groups);
    assert_eq!(
        calls.lines("call TKeyed/"),
        [format!("call TKeyed/{group}/process {{\"records\":[6]}}")]
    );
}

/// A position that holds no record (any more) is a letter again, not a
/// replay that reports success with nothing sent.
#[test]
fn a_replayed_position_without_a_record_is_a_letter_again() {
    let flow = stages(
        Pipeline::named("T")
            .key_groups(2)
            .source(EvenOnly)
            .key_by(|n| n % 3)
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    );
    let calls = FakeCalls::new(|_, _| json(()));
    let letter = DeadLetter {
        split: 0,
        position: 7,
        ..before_key_letter()
    };
    assert!(!replays(&flow, &calls, letter));
    assert!(calls.lines("call TKeyed/").is_empty());
    let letters = calls.lines("send TControl/pipeline/deadLetter ");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0].contains("holds no record at position 7"),
        "{letters:?}"
    );
}

/// A pushed split's lease brings its records: the round reads no source.
/// A record that does not decode as the source's type (`"x"` at position
/// 41) is a letter that keeps its JSON, and the records after it keep
/// their own positions; a record a stage fails on (44) also keeps its JSON,
/// and a replay sends it in from the letter, the log having dropped it.
#[test]
fn a_pushed_lease_brings_its_records_and_a_letter_keeps_the_pushed_json() {
    static BAD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(4);
    let flow = stages(
        Pipeline::named("T")
            .key_groups(2)
            .max_attempts(2)
            .source(crate::source::Pushed::<u64>::new())
            .map(|n| {
                assert_ne!(n, BAD.load(std::sync::atomic::Ordering::Relaxed), "bad");
                n
            })
            .key_by(|n| n % 3)
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    );
    let pushed = serde_json::json!([1, "x", 2, 3, 4, 5]);
    let calls = FakeCalls::new(move |address, body| match address {
        "TSplit/0/next" => json(Lease {
            from: 40,
            count: 6,
            dry: None,
            records: pushed.as_array().cloned(),
        }),
        a if a.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
        _ => json(()),
    });
    assert_eq!(block_on(run(&flow, &calls, token(0))), Outcome::Continued);
    let mut letters: Vec<DeadLetter> = calls
        .lines("send TControl/pipeline/deadLetter ")
        .iter()
        .map(|l| serde_json::from_str(l.trim_start_matches("send TControl/pipeline/deadLetter ")))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    letters.sort_by_key(|l| l.position);
    let kept: Vec<_> = letters
        .iter()
        .map(|l| (l.position, l.stage.clone(), l.record.clone()))
        .collect();
    assert_eq!(
        kept,
        [
            (41, FailedStage::BeforeKey, Some(serde_json::json!("x"))),
            (44, FailedStage::BeforeKey, Some(serde_json::json!(4))),
        ]
    );
    assert!(letters[0].error.contains("does not decode"), "{letters:?}");
    let sent: Vec<String> = calls.lines("call TKeyed/");
    let records: usize = sent.iter().map(|l| l.matches(',').count() + 1).sum();
    assert_eq!(records, 4, "1, 2, 3 and 5 reach their groups: {sent:?}");

    BAD.store(u64::MAX, std::sync::atomic::Ordering::Relaxed);
    let calls = FakeCalls::new(|address, body| match address {
        a if a.starts_with("TKeyed/") => Ok(records_of(&String::from_utf8_lossy(body))),
        _ => json(()),
    });
    assert!(replays(&flow, &calls, letters[1].clone()));
    let group = crate::group::key_group("1", flow.config().key_groups);
    assert_eq!(
        calls.lines("call TKeyed/"),
        [format!("call TKeyed/{group}/process {{\"records\":[4]}}")]
    );

    // Replayed, a record that still does not decode is one letter again,
    // with its JSON; and a letter of a pushed split with no record is
    // kept, saying why, not read from a log that no longer has it.
    let calls = FakeCalls::new(|_, _| json(()));
    assert!(!replays(&flow, &calls, letters[0].clone()));
    let again = the_one_letter(&calls);
    assert_eq!(
        (again.position, again.record),
        (41, Some(serde_json::json!("x")))
    );
    let calls = FakeCalls::new(|_, _| json(()));
    let bare = DeadLetter {
        record: None,
        ..letters[0].clone()
    };
    assert!(!replays(&flow, &calls, bare));
    assert!(the_one_letter(&calls).error.contains("not kept"));
}

/// In a chain, the first stage's groups answer what they make for the
/// second (`passed`), and the token calls each second-stage group once
/// with what every first-stage group made for it, and so on down the chain,
/// gathering what the last answers for the sink: one call per group per
/// stage, not one per pair of groups.
#[test]
fn a_token_carries_what_each_stage_passed_to_the_next_once_per_group() {
    let flow = summing(100);
    let calls = FakeCalls::new(|address, body| {
        let body = String::from_utf8_lossy(body);
        let batch: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        match address {
            // The second stage's group 7 passes all it got to group 3 of
            // the third; the third answers its records as output.
            "TKeyed2/7/process" => {
                let passed =
                    serde_json::json!([{ "group": 3, "from": 7, "records": batch["records"] }]);
                json(serde_json::json!({ "out": [], "passed": passed }))
            }
            _ => Ok(records_of(&body)),
        }
    });
    let round = Round {
        flow: &flow,
        calls: &calls,
        split: 0,
        lease: Lease {
            from: 0,
            count: 4,
            dry: None,
            records: None,
        },
        again: "",
        letters: AtomicU32::new(0),
    };
    let passed = |group: u32, from: u32, records: &[u64]| crate::protocol::Passed {
        group,
        from,
        records: (records.iter())
            .filter_map(|r| serde_json::value::to_raw_value(r).ok())
            .collect(),
    };
    let answer = crate::protocol::Answer {
        out: vec![1],
        needs: Vec::new(),
        passed: vec![
            passed(7, 0, &[10, 11]),
            passed(2, 0, &[12]),
            passed(7, 1, &[13]),
        ],
        encoding: crate::protocol::codec::Encoding::Json,
    };
    let answer = block_on(round.relay(answer, Some(5)));
    assert_eq!(
        calls.lines("call TKeyed"),
        [
            r#"call TKeyed2/2/process {"watermark":5,"records":[12]}"#,
            r#"call TKeyed2/7/process {"watermark":5,"records":[10,11,13]}"#,
            r#"call TKeyed3/3/process {"watermark":5,"records":[10,11,13]}"#,
        ]
    );
    let mut out = answer.out;
    out.sort_unstable();
    assert_eq!(out, [1, 10, 11, 12, 13]);
    assert!(answer.passed.is_empty());
}
