//! Exactly-once under crashes: the endpoint (a child process) is SIGKILLed
//! at least 5 times and restate-server at least twice while each pipeline
//! runs over 20,000 sequence-numbered records; afterwards the output, the
//! keyed state and the tokens must be exact. One test kills the built-in
//! pipelines (the word count, event-time windows, records pushed over
//! HTTP, …), another the connector pipelines (Kafka to Kafka, Kafka to
//! PostgreSQL, change data capture) on the shared broker and database, and
//! one crashes a PostgreSQL of its own under change data capture too.
//! `just chaos` is the long soak.

use stream_support::chaos::{self, ChaosConfig, ChaosReport, Connectors, Shape, Workload};

use crate::harness::{kafka, postgres};

/// Runs `config` under kills and asserts every pipeline came out exact.
async fn killed_and_exact(config: ChaosConfig) -> Vec<ChaosReport> {
    let pipelines: Vec<String> = config.workloads.iter().map(|w| w.arg()).collect();
    eprintln!(
        "chaos seed {} (rerun: just chaos --records {} --endpoint-kills {} --server-kills {} \
         --tokens {} --batch {} --pipeline {} --seed {} --shape {} --add-tokens {})",
        config.seed,
        config.records,
        config.endpoint_kills,
        config.server_kills,
        config.tokens,
        config.batch,
        pipelines.join(","),
        config.seed,
        config
            .shapes
            .iter()
            .map(|s| format!("{}x{}", s.nodes, s.replicas))
            .collect::<Vec<_>>()
            .join(","),
        config.add_tokens
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
            report.endpoint_kills >= config.endpoint_kills
                && report.server_kills >= config.server_kills,
            "{table}"
        );
        assert_eq!((report.lost, report.duplicated), (0, 0), "{table}");
    }
    reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_of_endpoint_and_server_leave_exactly_once_results() {
    killed_and_exact(ChaosConfig::ci()).await;
}

/// The small `just cluster`: three restate-server nodes (replication 2) and
/// two endpoint replicas behind nginx; one node and one replica SIGKILLed
/// and restarted, and tokens added mid-run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_with_endpoint_replicas_survives_a_node_and_a_replica_kill() {
    let config = ChaosConfig {
        workloads: vec![Workload::Count],
        shapes: vec![Shape {
            nodes: 3,
            replicas: 2,
        }],
        endpoint_kills: 1,
        server_kills: 1,
        add_tokens: 2,
        ..ChaosConfig::ci()
    };
    let reports = killed_and_exact(config).await;
    assert!(
        reports.iter().all(|r| r.rescale.is_some()),
        "tokens were added"
    );
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

/// Change data capture through crashes of all three: the endpoint and
/// restate-server killed, and a PostgreSQL of the run's own crashed
/// (`SIGQUIT`, no checkpoint) and restarted twice while a writer inserts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdc_through_endpoint_server_and_postgres_crashes_is_exact() {
    let config = ChaosConfig {
        workloads: vec![Workload::Cdc],
        records: 10_000,
        endpoint_kills: 4,
        server_kills: 2,
        batch: 200,
        ..ChaosConfig::ci()
    };
    killed_and_exact(config).await;
}
