//! An endpoint outage longer than the server's retry budget: the server
//! pauses the pipeline's invocations, `Stalled` shows them with the last
//! failure, nothing moves until they are resumed, and once the endpoint is
//! back and they are resumed (as the runner does), the pipeline finishes
//! exactly once. The budget is cut to a few attempts (on a server of the
//! test's own) so that the outage takes seconds instead of an hour.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use stream_runner::{LocalServer, LocalServerOptions};
use stream_runtime::restate::Stalled;
use stream_runtime::{CollectSink, Endpoint, IntoPipeline, Pipeline, ServiceNames};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::harness::{harness, scratch, until_finished, until_out};
use crate::pipelines::slow_counts;

const PIPELINE: &str = "Outage";
const RECORDS: u64 = 4_000;
const KEYS: u64 = 8;

static OUT: LazyLock<CollectSink<(u64, u64)>> = LazyLock::new(CollectSink::new);

/// A count per key, slowed down so that it runs when the endpoint goes.
fn counting() -> impl IntoPipeline {
    let named = Pipeline::named(PIPELINE).batch_size(20);
    slow_counts(
        named,
        RECORDS,
        KEYS,
        Duration::from_micros(500),
        OUT.clone(),
    )
}

/// Serves the pipeline on `port` until the answer is sent.
async fn serve(port: u16) -> oneshot::Sender<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("bind port {port}: {e}"));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        Endpoint::new()
            .pipeline(counting())
            .serve_on(listener, async move {
                let _ = stopped.await;
            }),
    );
    stop
}

/// Waits until `stalled` holds, or panics after a minute.
async fn until_stalled(
    server: &LocalServer,
    names: &ServiceNames,
    done: impl Fn(&Stalled) -> bool,
) -> Stalled {
    let started = Instant::now();
    loop {
        let stalled = server.admin().stalled(names).await.expect("sys_invocation");
        if done(&stalled) {
            return stalled;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still not as expected after a minute: {stalled:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_paused_by_a_long_outage_resumes_exactly_once() {
    harness(); // for its scratch dir, removed at exit
    let dir = scratch("endpoint-outage");
    let _ = std::fs::remove_dir_all(&dir);
    let mut options = LocalServerOptions::new(dir).ports(
        stream_support::free_port().expect("port"),
        stream_support::free_port().expect("port"),
        stream_support::free_port().expect("port"),
    );
    for (key, value) in [
        ("RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS", "3"),
        ("RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL", "100ms"),
        ("RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL", "200ms"),
    ] {
        options.env.push((key.to_owned(), value.to_owned()));
    }
    let server = LocalServer::start(options).await.expect("restate-server");
    let (admin, ingress) = (server.admin(), server.ingress());
    let names = ServiceNames::for_pipeline(PIPELINE);
    let port = stream_support::free_port().expect("port");
    let stop = serve(port).await;
    admin
        .register(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("register");
    ingress.add_tokens(&names, 2).await.expect("addTokens");
    until_out(&ingress, &names, RECORDS / 10, Duration::from_secs(60)).await;

    // The endpoint goes away for longer than the retry budget.
    let _ = stop.send(());
    let paused = until_stalled(&server, &names, |s| {
        !s.paused.is_empty() && s.backing_off == 0
    })
    .await;
    let failure = paused.last_failure.clone().unwrap_or_default();
    assert!(
        failure.contains(&format!("127.0.0.1:{port}")),
        "paused without the failure that paused it: {paused:?}"
    );

    // Back, but paused: nothing moves until someone resumes them. (`status`
    // is a call to the endpoint too, so it answers only now.)
    let stop = serve(port).await;
    let before = ingress.status(&names).await.expect("status");
    assert!(before.records_out < RECORDS, "{before:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = ingress.status(&names).await.expect("status");
    assert_eq!(
        still.records_out, before.records_out,
        "it moved while paused"
    );
    assert!(!admin
        .stalled(&names)
        .await
        .expect("stalled")
        .paused
        .is_empty());

    // What the runner does every few seconds.
    let resumed = admin.resume_paused(&names).await.expect("resume");
    assert_eq!(resumed.paused, paused.paused);
    let done = until_finished(&ingress, &names, Duration::from_secs(120)).await;
    assert_eq!(
        (done.records_in, done.records_out, done.dead_letters),
        (RECORDS, RECORDS, 0),
        "{done:?}"
    );
    let mut counts = OUT.records();
    counts.sort_unstable();
    let expected: Vec<(u64, u64)> = (0..KEYS)
        .flat_map(|key| (1..=RECORDS / KEYS).map(move |count| (key, count)))
        .collect();
    assert_eq!(counts, expected, "each running count once");
    assert!(admin.stalled(&names).await.expect("stalled").is_empty());
    let _ = stop.send(());
}
