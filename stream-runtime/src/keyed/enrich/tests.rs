//! The enrichment stage on one key group without a server (see
//! `testing::GroupSim`): what it calls, what it emits in which order,
//! what its cache saves, and where a failed call's record goes.

use std::time::Duration;

use crate::builder::Pipeline;
use crate::lookup::{Call, Enrich, Lookup};
use crate::sink::CollectSink;
use crate::source::InMemorySource;
use crate::testing::{stages, GroupSim};
use crate::time::Millis;

/// `(user, click)` records, each enriched with `Users/name` of its user.
fn enriching(
    options: Enrich,
) -> GroupSim<impl crate::stages::Dataflow<Mid = (u32, u32), Out = ((u32, u32), String)>> {
    let mut sim = GroupSim::new(stages(
        Pipeline::named("E")
            .source(InMemorySource::new(Vec::<(u32, u32)>::new()))
            .key_by(|(user, _)| *user)
            .enrich_with(options, |(user, _)| {
                Lookup::<String>::service("Users", "name", user)
            }),
        CollectSink::new(),
    ));
    sim.answer = Some(Box::new(|call: &Call| {
        let user = call.body.clone()?;
        Ok(serde_json::json!(format!("user-{user}")))
    }));
    sim
}

fn name(user: u32) -> String {
    format!("user-{user}")
}

#[test]
fn each_record_is_emitted_with_its_answer_in_order() {
    let mut sim = enriching(Enrich::new());
    let (out, _) = sim.call(vec![(1, 10), (2, 20), (1, 11)], None, 0);
    assert_eq!(
        out,
        [((1, 10), name(1)), ((2, 20), name(2)), ((1, 11), name(1))]
    );
    // One call per record, without a cache, each its own: the two of
    // user 1 send the same request, and still have their own keys.
    assert_eq!(sim.planned.len(), 3);
    let ids: std::collections::BTreeSet<_> = sim.planned.iter().map(|p| &p.id).collect();
    assert_eq!(ids.len(), 3);
}

#[test]
fn a_keys_next_batch_calls_afresh_and_a_batch_tried_again_calls_under_the_same_keys() {
    let mut sim = enriching(Enrich::new());
    sim.call(vec![(1, 10)], None, 0);
    sim.call(vec![(1, 10)], None, 0);
    let (first, next) = (&sim.planned[0].id, &sim.planned[1].id);
    assert_ne!(
        first, next,
        "a later batch of the same record is a new call"
    );
    // A batch whose call fails stores nothing, so trying it again plans
    // the same keys: Restate answers them from the first try.
    let store = sim.store.clone();
    sim.call(vec![(1, 10), (2, 20)], None, 0);
    sim.store = store;
    sim.call(vec![(1, 10), (2, 20)], None, 0);
    let ids: Vec<&String> = sim.planned[2..].iter().map(|p| &p.id).collect();
    assert_eq!(ids[0..2], ids[2..4]);
}

#[test]
fn a_function_after_the_stage_that_panics_dead_letters_its_record() {
    use crate::driver::TestDriver;
    let out = CollectSink::new();
    let pipeline = Pipeline::named("P")
        .source(InMemorySource::new(vec![1u32, 2, 3]))
        .key_by(|n| *n)
        .enrich(|n| Lookup::<u32>::service("S", "h", n))
        .map(|(n, answer)| {
            assert_ne!(n, 2, "no 2");
            n + answer
        })
        .sink(out.clone());
    let mut driver = TestDriver::new(pipeline);
    driver.answer_lookups(|call| call.body.clone());
    crate::testing::block_on(driver.run_to_end()).expect("runs");
    assert_eq!(out.records(), [2, 6]);
    let letters = driver.dead_letters();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].error.contains("no 2"), "{letters:?}");
}

#[test]
fn a_request_that_does_not_encode_is_not_called() {
    let mut bad = std::collections::HashMap::new();
    bad.insert((1, 2), 3);
    let failing = Lookup::<String>::service("Users", "name", &bad);
    let answered = crate::lookup::answer_here(&failing.call, |_| panic!("called"));
    assert!(answered.unwrap_err().contains("does not encode"));
}

#[test]
fn ordered_keeps_the_records_order_whatever_order_the_calls_answer_in() {
    let mut sim = enriching(Enrich::new());
    sim.last_answers_first = true;
    let (out, _) = sim.call(vec![(1, 10), (2, 20), (3, 30)], None, 0);
    let clicks: Vec<u32> = out.iter().map(|((_, click), _)| *click).collect();
    assert_eq!(clicks, [10, 20, 30]);
}

#[test]
fn unordered_emits_records_as_their_calls_answer() {
    let mut sim = enriching(Enrich::new().unordered());
    sim.last_answers_first = true;
    let (out, _) = sim.call(vec![(1, 10), (2, 20), (3, 30)], None, 0);
    let clicks: Vec<u32> = out.iter().map(|((_, click), _)| *click).collect();
    assert_eq!(clicks, [30, 20, 10]);
}

#[test]
fn a_cache_calls_once_per_key_until_its_answer_expires() {
    let ttl: Millis = 60_000;
    let mut sim = enriching(Enrich::new().cache(Duration::from_millis(ttl as u64)));
    let (out, _) = sim.call(vec![(1, 10), (1, 11), (2, 20)], None, 1_000);
    assert_eq!(out.len(), 3);
    assert_eq!(sim.planned.len(), 2, "one call per key");
    assert_eq!(sim.planned[0].records, [0, 1]);
    // Still fresh a millisecond before it expires: no call.
    let (out, _) = sim.call(vec![(1, 12)], None, 1_000 + ttl - 1);
    assert_eq!(out, [((1, 12), name(1))]);
    assert_eq!(sim.planned.len(), 2);
    // Expired on its bound: called again.
    let (out, _) = sim.call(vec![(1, 13), (2, 21)], None, 1_000 + ttl);
    assert_eq!(out.len(), 2);
    assert_eq!(sim.planned.len(), 4);
}

#[test]
fn a_cached_answer_comes_first_when_unordered() {
    let mut sim = enriching(Enrich::new().unordered().cache(Duration::from_secs(60)));
    sim.call(vec![(2, 20)], None, 0);
    let (out, _) = sim.call(vec![(1, 10), (2, 21)], None, 1);
    let clicks: Vec<u32> = out.iter().map(|((_, click), _)| *click).collect();
    assert_eq!(clicks, [21, 10]);
}

#[test]
fn a_failed_call_dead_letters_its_record_and_the_rest_go_on() {
    let mut sim = enriching(Enrich::new());
    sim.answer = Some(Box::new(|call: &Call| match call.body.clone()? {
        serde_json::Value::Number(n) if n.as_u64() == Some(2) => Err("Users/name failed".into()),
        user => Ok(serde_json::json!(format!("user-{user}"))),
    }));
    let (out, _) = sim.call(vec![(1, 10), (2, 20), (3, 30)], None, 0);
    assert_eq!(out, [((1, 10), name(1)), ((3, 30), name(3))]);
    assert_eq!(sim.dropped.len(), 1);
    let (record, reason) = &sim.dropped[0];
    assert_eq!(record.as_ref(), Some(&serde_json::json!([2, 20])));
    assert_eq!(reason, "Users/name failed");
}

#[test]
fn an_answer_of_another_type_dead_letters_its_record_with_why() {
    let mut sim = enriching(Enrich::new());
    sim.answer = Some(Box::new(|_: &Call| {
        Ok(serde_json::json!({ "not": "a name" }))
    }));
    let (out, _) = sim.call(vec![(1, 10)], None, 0);
    assert!(out.is_empty());
    let reason = &sim.dropped[0].1;
    assert!(
        reason.contains("does not decode as `alloc::string::String`"),
        "{reason}"
    );
}

#[test]
fn an_answer_of_another_type_is_not_cached() {
    let mut sim = enriching(Enrich::new().cache(Duration::from_secs(60)));
    sim.answer = Some(Box::new(|_: &Call| Ok(serde_json::json!(7))));
    sim.call(vec![(1, 10)], None, 0);
    assert_eq!(sim.dropped.len(), 1);
    sim.answer = Some(Box::new(|_: &Call| Ok(serde_json::json!("seven"))));
    let (out, _) = sim.call(vec![(1, 11)], None, 1);
    assert_eq!(out, [((1, 11), "seven".to_owned())]);
}

#[test]
fn a_failed_answer_is_not_cached() {
    let mut sim = enriching(Enrich::new().cache(Duration::from_secs(60)));
    sim.answer = Some(Box::new(|_: &Call| Err("down".into())));
    sim.call(vec![(1, 10)], None, 0);
    assert_eq!(sim.dropped.len(), 1);
    sim.answer = Some(Box::new(|_: &Call| Ok(serde_json::json!("back"))));
    let (out, _) = sim.call(vec![(1, 11)], None, 1);
    assert_eq!(out, [((1, 11), "back".to_owned())]);
    assert_eq!(sim.planned.len(), 2, "the key was called again");
}
