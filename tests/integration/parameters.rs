//! Pipeline parameters reach the stages at run time, and names that cannot
//! name Restate services are errors, not panics.

use std::time::Duration;

use stream_runtime::{CollectSink, Endpoint, EndpointError, Pipeline, Sequence};

use crate::harness::harness;
use crate::pipelines::{Scaled, SCALED_RECORDS};

/// Values known only at run time: they cannot have been baked in.
pub fn scaled() -> Scaled {
    let factor = 2 + u64::from(std::process::id()) % 5;
    Scaled {
        factor,
        offset: factor * 1_000,
        out: CollectSink::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_reach_every_stage_at_run_time() {
    let h = harness();
    let names = Scaled::service_names();
    h.add_tokens(&names, 2).await;
    let done = h
        .wait_for(&names, Duration::from_secs(120), |_| {}, |s| s.finished)
        .await;
    assert_eq!(done.records_in, SCALED_RECORDS);

    let expected = scaled();
    let mut written = crate::pipelines::SCALED_OUT
        .get()
        .expect("the harness bound the pipeline")
        .records();
    written.sort_unstable();
    let wanted: Vec<u64> = (0..SCALED_RECORDS)
        .filter(|n| n % expected.factor != 0)
        .map(|n| n * expected.factor + expected.offset)
        .collect();
    assert_eq!(written, wanted, "factor {}", expected.factor);
}

#[test]
fn a_name_that_cannot_name_services_is_an_error() {
    for name in ["9x", "a b", "", "Wörter"] {
        let endpoint = Endpoint::new().pipeline(
            Pipeline::named(name)
                .source(Sequence::new())
                .sink(CollectSink::<u64>::new()),
        );
        match endpoint.build() {
            Err(EndpointError::InvalidName(bad)) => assert_eq!(bad, name),
            other => panic!("{name:?}: expected InvalidName, got {:?}", other.err()),
        }
    }
}
