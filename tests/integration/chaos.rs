//! Exactly-once under crashes: the endpoint (a child process) is SIGKILLed
//! at least 5 times and restate-server at least twice while a word count,
//! then event-time windows, run over 20,000 sequence-numbered records;
//! afterwards the file, the keyed state and the tokens must be exact.
//! `just chaos` is the long soak.

use stream_support::chaos::{self, ChaosConfig, ChaosReport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_of_endpoint_and_server_leave_exactly_once_results() {
    let config = ChaosConfig::ci();
    eprintln!("chaos seed {} (rerun: just chaos --records 20000 --endpoint-kills 5 --server-kills 2 --tokens 4 --batch 20 --seed {})", config.seed, config.seed);
    let reports = chaos::run(
        &config,
        std::path::Path::new(env!("CARGO_BIN_EXE_chaos_endpoint")),
    )
    .await
    .unwrap_or_else(|e| panic!("the chaos run failed: {e}"));
    let table = ChaosReport::table(&reports);
    eprintln!("{table}");
    assert_eq!(reports.len(), 2, "a word count and a windowed pipeline");
    for report in &reports {
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
        assert!(
            report.endpoint_kills >= 5 && report.server_kills >= 2,
            "{table}"
        );
        assert_eq!((report.lost, report.duplicated), (0, 0), "{table}");
    }
}
