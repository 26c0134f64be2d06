use std::collections::BTreeMap;

use super::output::{Output, Woken};
use super::{batch::by_key, by_group};
use crate::builder::Pipeline;
use crate::group::by_key_slots;
use crate::keyed::Emit;
use crate::protocol::{DeadLetter, FailedStage};
use crate::round::fake::FakeCalls;
use crate::sink::CollectSink;
use crate::source::Sequence;
use crate::stages::Level;
use crate::testing::{block_on, stages};

#[test]
fn a_batch_names_each_distinct_key_once_in_order() {
    let flow = stages(
        Pipeline::named("T")
            .source(Sequence::new())
            .key_by(|n| n % 2)
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    );
    let grouped = by_key(&*flow.first, vec![1, 2, 3, 4]).expect("keys encode");
    assert_eq!(grouped.keys, ["1", "0"]);
    let slots: Vec<usize> = grouped.records.iter().map(|(slot, _)| *slot).collect();
    assert_eq!(slots, [0, 1, 0, 1]);
    assert_eq!(by_key_slots(&grouped, 1), 1);
}

#[test]
fn records_passed_on_fold_per_key_where_the_next_stage_combines() {
    let next = |emit| {
        stages(
            Pipeline::named("T")
                .key_groups(1)
                .source(Sequence::new())
                .key_by(|n| n % 2)
                .reduce_emitting(|a, b| a + b, emit),
            CollectSink::<u64>::new(),
        )
    };
    let latest = next(Emit::LatestPerBatch);
    // 1 + 3 would be even: that fold is not kept.
    let by = by_group(&*latest.first, vec![1, 2, 3, 4]);
    assert_eq!(by.groups.get(&0), Some(&vec![1, 6, 3]));
    let every = next(Emit::EveryUpdate);
    let by = by_group(&*every.first, vec![1, 2, 3, 4]);
    assert_eq!(by.groups.get(&0), Some(&vec![1, 2, 3, 4]));
}

#[test]
fn a_batch_forwards_its_watermark_and_fired_output_is_judged_by_the_next_stage() {
    assert_eq!(Woken::Batch.forwards(Some(7)), Some(7));
    assert_eq!(Woken::Upstream.forwards(Some(7)), Some(7));
    assert_eq!(Woken::Clock.forwards(Some(7)), None);
    assert_eq!(Woken::Delay(3).forwards(Some(7)), None);
    // The last stage sends its wake-ups itself; a delayed call always does.
    assert!(Woken::Batch.sends_needs(false));
    assert!(!Woken::Batch.sends_needs(true));
    assert!(Woken::Delay(3).sends_needs(true));
    assert_eq!(Woken::Fire.forwards(Some(7)), None);
    assert!(!Woken::Fire.sends_needs(true));
}

/// A token's relaying batch, and the clock's wake-up of a stage that fires
/// each window once, answer their output for the caller to carry; any
/// other call passes it on itself.
#[test]
fn only_a_relaying_batch_and_a_carried_wake_up_answer_their_output() {
    assert!(Woken::Relay.answers_passed(false));
    assert!(Woken::Fire.answers_passed(true));
    // Asked to carry at a stage that could emit on a batch: passes on.
    assert!(!Woken::Fire.answers_passed(false));
    for woken in [Woken::Batch, Woken::Upstream, Woken::Clock, Woken::Delay(3)] {
        assert!(!woken.answers_passed(true), "{woken:?}");
    }
    // What every group's wake-up answers adds up to one call at most.
    let config = crate::PipelineConfig {
        key_groups: crate::KeyGroups::new(16),
        max_call_bytes: 1_600,
        ..crate::PipelineConfig::default()
    };
    assert_eq!(Woken::Fire.relay_budget(&config), 100);
    assert_eq!(Woken::Relay.relay_budget(&config), 1_600);
}

/// What a group passes on reaches the next stage's groups, each its own
/// records in order, with the watermark; a record whose next key fails is
/// dead-lettered as the next stage's, with the group it came from.
#[test]
fn output_passed_on_reaches_the_next_groups_and_a_failing_key_is_a_dead_letter() {
    // The next stage: any keyed stage; here a line's only one.
    let flow = stages(
        Pipeline::named("T")
            .key_groups(2)
            .source(Sequence::new())
            .key_by(|n: &u64| {
                assert!(*n != 3, "no key for 3");
                *n % 2
            })
            .reduce(|a, b| a + b),
        CollectSink::<u64>::new(),
    );
    let next = &*flow.first;
    let calls = FakeCalls::new(|_, _| Ok(br#"{"out":[]}"#.to_vec()));
    let output = Output {
        calls: &calls,
        config: next.config(),
        level: 0,
        group: 5,
    };
    let groups = output.route(next, vec![1, 2, 3, 4]);
    let groups = groups.unwrap_or_else(|e| panic!("{e}"));
    let needs = block_on(output.pass_on(&calls, next, groups, Some(9)));
    assert_eq!(needs.map_err(|e| e.to_string()), Ok(Vec::new()));
    let sent: Vec<String> = calls.lines("call TKeyed/");
    let batches: Vec<serde_json::Value> = (sent.iter())
        .filter_map(|line| line.split_once(" ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(" ").map(|(_, body)| body))
        .filter_map(|body| serde_json::from_str(body).ok())
        .collect();
    let mut records: Vec<u64> = (batches.iter())
        .flat_map(|b| b["records"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.as_u64())
        .collect();
    records.sort_unstable();
    assert_eq!(records, [1, 2, 4], "{sent:?}");
    assert!(batches.iter().all(|b| b["watermark"] == 9), "{sent:?}");
    let letters = calls.lines("send TControl/pipeline/deadLetter ");
    let [letter] = &letters[..] else {
        panic!("one dead letter, not {letters:?}")
    };
    let body = letter.trim_start_matches("send TControl/pipeline/deadLetter ");
    let letter: DeadLetter = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let chained = FailedStage::Chained {
        stage: 2,
        from_group: 5,
    };
    assert_eq!(
        (letter.stage, letter.record),
        (chained, Some(serde_json::json!(3)))
    );
    assert!(letter.error.contains("no key for 3"), "{}", letter.error);
}

/// What a relaying group makes for the next stage is answered as JSON, by
/// group, up to a call's size; past it, the records are given back to be
/// passed on by the group itself.
#[test]
fn relayed_records_are_answered_as_json_under_the_budget_and_given_back_over_it() {
    let calls = FakeCalls::new(|_, _| Ok(Vec::new()));
    let config = crate::PipelineConfig::default();
    let output = Output {
        calls: &calls,
        config: &config,
        level: 0,
        group: 5,
    };
    let groups = || {
        BTreeMap::from([
            (1, vec!["a".to_owned(), "b".to_owned()]),
            (3, vec!["c".to_owned()]),
        ])
    };
    let passed = output
        .relay(groups(), 100)
        .unwrap_or_else(|_| panic!("given back"));
    let texts: Vec<(u32, u32, Vec<String>)> = (passed.iter())
        .map(|p| {
            (
                p.group,
                p.from,
                p.records.iter().map(|r| r.get().to_owned()).collect(),
            )
        })
        .collect();
    let json = |s: &[&str]| s.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>();
    assert_eq!(texts, [(1, 5, json(&["a", "b"])), (3, 5, json(&["c"]))]);
    // Three records of 3 bytes each: 9 fit, 8 do not.
    assert!(output.relay(groups(), 9).is_ok());
    assert_eq!(output.relay(groups(), 8).err(), Some(groups()));
}
