//! Invariant 1: the tokens circulating equal the tokens injected, whatever
//! `filter` drops and `flat_map` multiplies. The seed loses a token per
//! dropped record and makes one per extra record; these would catch both.

use std::time::Duration;

use stream_runtime::{ServiceNames, Status};

use crate::harness::{harness, Harness};
use crate::pipelines::{FilterAll, FilterMost, FlatMapMany, FANNED, FAN_OUT, FILTERED, NOTHING};

/// While the pipeline runs, the server must show `tokens` live `ingest`
/// invocations. A token hands itself on by sending its next `ingest`, which
/// may live on another partition, so a single sample can catch the handoff
/// with the token counted twice or not at all. Handoffs are brief: the value
/// seen most often is the number of tokens, while a lost token lowers and a
/// duplicated one raises nearly every sample. On a loaded machine handoffs
/// last longer, so a window of samples whose most frequent value is off is
/// sampled again, up to three windows: a lost or duplicated token is off in
/// every one.
async fn assert_tokens_circulate(h: &Harness, names: &ServiceNames, tokens: u64) {
    let mut windows = Vec::new();
    for _ in 0..3 {
        let mut samples = Vec::new();
        for _ in 0..25 {
            samples.push(h.live_ingests(names).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut tally = std::collections::BTreeMap::new();
        for n in &samples {
            *tally.entry(*n).or_insert(0) += 1;
        }
        let most_seen = tally.iter().max_by_key(|(_, seen)| **seen).map(|(n, _)| *n);
        if most_seen == Some(tokens) {
            return;
        }
        windows.push(samples);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!(
        "{}: {tokens} tokens, but live ingest invocations sampled {windows:?}",
        names.pipeline
    );
}

async fn run_to_finish(h: &Harness, names: &ServiceNames, tokens: u64, total_in: u64) -> Status {
    h.wait_for(
        names,
        Duration::from_secs(180),
        |status| assert!(status.tokens_in_flight <= tokens, "{status:?}"),
        |status| status.finished,
    )
    .await;
    let status = h.status(names).await;
    assert_eq!(status.records_in, total_in);
    assert_eq!(status.tokens_injected, tokens);
    assert_eq!(status.tokens_in_flight, 0, "every token parked: {status:?}");
    assert_eq!(h.live_ingests(names).await, 0);
    h.assert_nothing_stuck(names).await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_that_drops_most_records_keeps_every_token() {
    let h = harness();
    let names = FilterMost::service_names();
    let tokens = 6;
    h.add_tokens(&names, tokens).await;
    // Mid-run: enough rounds that a leaking design would have lost them all.
    h.wait_for(
        &names,
        Duration::from_secs(120),
        |_| {},
        |s| s.records_in >= 2_000,
    )
    .await;
    let mid = h.status(&names).await;
    if !mid.finished {
        assert_eq!(mid.tokens_in_flight, tokens);
        assert_tokens_circulate(h, &names, tokens).await;
    }
    let status = run_to_finish(h, &names, tokens, 12_000).await;
    // 120 multiples of 100 pass the filter; each is one reduce output.
    assert_eq!(status.records_out, 120);
    let mut sums = [0u64; 5];
    for (key, sum) in FILTERED.records() {
        sums[key as usize] = sums[key as usize].max(sum);
    }
    let mut expected = [0u64; 5];
    for n in (0..12_000u64).filter(|n| n % 100 == 0) {
        expected[(n % 5) as usize] += n;
    }
    assert_eq!(sums, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_that_drops_every_record_still_finishes() {
    let h = harness();
    let names = FilterAll::service_names();
    h.add_tokens(&names, 3).await;
    let status = run_to_finish(h, &names, 3, 500).await;
    assert_eq!(status.records_out, 0);
    assert!(NOTHING.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flat_map_that_multiplies_records_makes_no_tokens() {
    let h = harness();
    let names = FlatMapMany::service_names();
    let tokens = 5;
    h.add_tokens(&names, tokens).await;
    h.wait_for(
        &names,
        Duration::from_secs(120),
        |_| {},
        |s| s.records_in >= 1_000,
    )
    .await;
    let mid = h.status(&names).await;
    if !mid.finished {
        assert_eq!(mid.tokens_in_flight, tokens);
        assert_tokens_circulate(h, &names, tokens).await;
    }
    let status = run_to_finish(h, &names, tokens, 6_000).await;
    assert_eq!(status.records_out, 6_000 * FAN_OUT);
    let mut out = FANNED.records();
    out.sort_unstable();
    let expected: Vec<(u64, u64)> = (0..6_000)
        .flat_map(|n| (0..FAN_OUT).map(move |c| (n, c)))
        .collect();
    assert_eq!(out, expected, "every copy of every record, once");
}
