//! Bad requests get a terminal 4xx with a message and change nothing.

use std::time::Duration;

use crate::harness::harness;
use crate::pipelines::{Untouched, UNTOUCHED_OUT, UNTOUCHED_RECORDS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_counts_are_rejected_with_a_message() {
    let h = harness();
    let names = Untouched::service_names();
    h.status(&names).await;
    let ingress = h.ingress();
    let huge = "1".repeat(200_000);
    let cases: [(&str, &str); 12] = [
        ("", "empty"),
        ("abc", "not a number"),
        ("-1", "at least 1"),
        ("0", "at least 1"),
        ("1.5", "whole number"),
        ("\"10\"", "whole number"),
        ("[10]", "whole number"),
        ("10001", "at most 10000"),
        ("1e12", "at most 10000"),
        ("99999999999999999999999", "at most 10000"),
        ("{\"tokens\": 10}", "whole number"),
        (huge.as_str(), "not a number"),
    ];
    for (body, expected) in cases {
        let shown: String = body.chars().take(40).collect();
        let err = ingress
            .call_raw(&names.source, "addTokens", body.as_bytes())
            .await
            .expect_err(&shown);
        let status = err
            .status()
            .unwrap_or_else(|| panic!("{shown:?}: no HTTP answer: {err}"));
        assert_eq!(status, 400, "{shown:?}: {err}");
        assert!(err.to_string().contains(expected), "{shown:?}: {err}");
    }
    // `status` takes no body.
    for body in ["junk", "{\"a\": 1}", "[]"] {
        let err = ingress
            .call_raw(&names.source, "status", body.as_bytes())
            .await
            .expect_err(body);
        assert_eq!(err.status(), Some(400), "{body:?}: {err}");
    }
    let status = h.status(&names).await;
    assert_eq!(
        status.tokens_injected, 0,
        "a rejected call injected tokens: {status:?}"
    );
    assert_eq!(h.live_ingests(&names).await, 0);

    // After all that, the pipeline runs and its results are exact.
    h.add_tokens(&names, 2).await;
    let done = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    assert_eq!(
        (done.records_in, done.records_out, done.dead_letters),
        (UNTOUCHED_RECORDS, UNTOUCHED_RECORDS, 0)
    );
    let mut out = UNTOUCHED_OUT.records();
    out.sort_unstable();
    assert_eq!(
        out,
        (0..UNTOUCHED_RECORDS).map(|n| n * 2).collect::<Vec<_>>()
    );
    h.assert_nothing_stuck(&names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_handlers_are_not_reachable_from_outside() {
    let h = harness();
    let names = Untouched::service_names();
    h.status(&names).await;
    let ingress = h.ingress();
    for (service, name) in [
        (names.source.clone(), "ingest".to_owned()),
        (format!("{}/0", names.split), "next".to_owned()),
        (format!("{}/0", names.sink), "write".to_owned()),
        (format!("{}/pipeline", names.control), "add".to_owned()),
    ] {
        let err = ingress
            .call_raw(&service, &name, b"{\"id\": 0}")
            .await
            .expect_err(&name);
        let status = err
            .status()
            .unwrap_or_else(|| panic!("{service}/{name}: {err}"));
        assert!((400..500).contains(&status), "{service}/{name}: {err}");
    }
}
