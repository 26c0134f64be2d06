//! Exactly-once under crashes: the endpoint (a child process) is SIGKILLed
//! at least 5 times and restate-server at least twice while each pipeline
//! runs over 20,000 sequence-numbered records; afterwards the output, the
//! keyed state and the tokens must be exact. One test kills the word count
//! and event-time windows, another the connector pipelines (Kafka to Kafka,
//! Kafka to PostgreSQL) on the shared broker and database. `just chaos` is
//! the long soak.

use stream_support::chaos::{self, ChaosConfig, ChaosReport, Connectors, Workload};

use crate::harness::{kafka, postgres};

/// Runs `config` under kills and asserts every pipeline came out exact.
async fn killed_and_exact(config: ChaosConfig) {
    let pipelines: Vec<String> = config.workloads.iter().map(|w| w.arg()).collect();
    eprintln!(
        "chaos seed {} (rerun: just chaos --records {} --endpoint-kills {} --server-kills {} \
         --tokens {} --batch {} --pipeline {} --seed {})",
        config.seed,
        config.records,
        config.endpoint_kills,
        config.server_kills,
        config.tokens,
        config.batch,
        pipelines.join(","),
        config.seed
    );
    let reports = chaos::run(
        &config,
        std::path::Path::new(env!("CARGO_BIN_EXE_chaos_endpoint")),
    )
    .await
    .unwrap_or_else(|e| panic!("the chaos run failed: {e}"));
    let table = ChaosReport::table(&reports);
    eprintln!("{table}");
    assert_eq!(reports.len(), config.workloads.len(), "{table}");
    for report in &reports {
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
        assert!(
            report.endpoint_kills >= 5 && report.server_kills >= 2,
            "{table}"
        );
        assert_eq!((report.lost, report.duplicated), (0, 0), "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_of_endpoint_and_server_leave_exactly_once_results() {
    killed_and_exact(ChaosConfig::ci()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_leave_the_kafka_and_postgres_sinks_exactly_once() {
    let config = ChaosConfig {
        workloads: Workload::CONNECTORS.to_vec(),
        connectors: Connectors {
            kafka: Some(kafka().bootstrap.clone()),
            postgres: Some(postgres().to_owned()),
            tag: 0,
        },
        ..ChaosConfig::ci()
    };
    killed_and_exact(config).await;
}
