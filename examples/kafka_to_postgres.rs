//! Kafka to PostgreSQL: page views, produced as JSON to a topic, counted
//! per page per 10 s of event time, and upserted into a table, each
//! (page, window) once.
//!
//! ```sh
//! just run-kafka          # cargo run --features connectors --example kafka_to_postgres
//! ```
//!
//! With no `--bootstrap`, it starts a Kafka broker (jars from Maven Central
//! on first use); with no `--postgres`, a PostgreSQL (Debian's package).
//! A producer writes `--events` page views at `--rate` per second while the
//! pipeline runs on a local Restate server; the runner prints progress,
//! and every 5 s the table's state is printed too. A window is written once
//! the watermark (2 s behind the latest view) passes its end, so the
//! windows of the last seconds stay open until newer views arrive; views
//! spanning 13 s or more close at least one window. Give `--bootstrap` and
//! `--postgres` to use your own servers (see the guide's manual flow, docs/src/operating.md); the
//! producer is then skipped with `--events 0`.
//!
//! A value that is not a page view goes to the dead-letter output with the
//! reason, and the rest flow.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde::{Deserialize, Serialize};
use stream_runner::{Runner, RunnerArgs};
use stream_runtime::kafka::KafkaSource;
use stream_runtime::postgres::PostgresSink;
use stream_runtime::time::Watermarks;
use stream_runtime::window::tumbling;
use stream_runtime::Pipeline;
use stream_support::kafka::{create_topic, Producer};
use stream_support::servers::given_or_started;

/// One page view, as the producer writes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PageView {
    user: String,
    page: String,
    /// When it happened, in milliseconds since the epoch.
    ts: i64,
}

/// Page views counted per page per 10 s, upserted into PostgreSQL.
#[derive(Parser)]
struct Cli {
    /// A Kafka broker (`host:port`) to use instead of starting one
    #[arg(long)]
    bootstrap: Option<String>,
    /// A PostgreSQL connection string to use instead of starting one
    /// (`host=127.0.0.1 port=5432 user=postgres`)
    #[arg(long)]
    postgres: Option<String>,
    /// The topic of page views (created with 2 partitions if missing)
    #[arg(long, default_value = "page-views")]
    topic: String,
    /// Page views the built-in producer writes (0: none)
    #[arg(long, default_value_t = 80_000)]
    events: u64,
    /// Page views per second it writes
    #[arg(long, default_value_t = 2_000)]
    rate: u64,
    #[command(flatten)]
    runner: RunnerArgs,
}

/// The table the windows go to.
const TABLE: &str = "page_views_10s";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(mut cli: Cli) -> Result<(), String> {
    if cli.runner.duration.is_none() && cli.bootstrap.is_none() {
        // The built-in servers stop with the example: run while the
        // producer writes, and a little after.
        cli.runner.duration = Some(cli.events / cli.rate.max(1) + 10);
    }
    if cli.bootstrap.is_none() && !cli.runner.fresh {
        // The broker started below is new, so the offsets this pipeline
        // read from an earlier one mean nothing: start its state over (its
        // data dir is this example's own, target/restate-dev/kafka_to_postgres).
        println!("a new broker each run: the pipeline's state starts over too (as --fresh)");
        cli.runner.fresh = true;
    }
    let scratch = std::env::temp_dir().join(format!("kafka-to-postgres-{}", std::process::id()));
    let servers = given_or_started(cli.postgres.clone(), cli.bootstrap.clone(), &scratch).await?;
    let (postgres, bootstrap) = (servers.postgres.clone(), servers.bootstrap.clone());
    println!("Kafka at {bootstrap}, topic {}", cli.topic);
    println!("PostgreSQL: psql \"{postgres}\" -c 'SELECT * FROM {TABLE} ORDER BY window_start DESC LIMIT 10'");
    if let Err(e) = create_topic(&bootstrap, &cli.topic, 2).await {
        if !e.contains("exists") {
            return Err(format!("creating topic {}: {e}", cli.topic));
        }
    }
    let db = connect(&postgres).await?;
    db.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (page text NOT NULL, window_start bigint NOT NULL, \
         views bigint NOT NULL, PRIMARY KEY (page, window_start))"
    ))
    .await
    .map_err(|e| format!("creating {TABLE}: {e}"))?;

    let source = KafkaSource::connect(&bootstrap, &cli.topic)
        .await
        .map_err(|e| e.to_string())?;
    let sink = PostgresSink::connect(
        &postgres,
        TABLE,
        &["page", "window_start", "views"],
        |(page, start, views): &(String, i64, u64)| {
            vec![
                page.as_str().into(),
                (*start).into(),
                (*views as i64).into(),
            ]
        },
    )
    .await
    .map_err(|e| e.to_string())?
    .upsert_on(&["page", "window_start"]);
    let pipeline = Pipeline::named("PageViews")
        .source(source)
        .map(|record| {
            record
                .json::<PageView>()
                .unwrap_or_else(|e| panic!("{e}: {:?}", record.value_str()))
        })
        .event_time(
            |view| view.ts,
            Watermarks::max_delay(Duration::from_secs(2)).idle(Duration::from_secs(5)),
        )
        .key_by(|view| view.page.clone())
        .window(tumbling(Duration::from_secs(10)))
        .aggregate(0u64, |views, _| *views += 1)
        .map(|w| (w.key, w.start, w.value))
        .sink(sink);

    if cli.events > 0 {
        tokio::spawn(producer(
            bootstrap.clone(),
            cli.topic.clone(),
            cli.events,
            cli.rate,
        ));
    }
    tokio::spawn(report(db));
    Runner::new(cli.runner)
        .pipeline(pipeline)
        .run()
        .await
        .map_err(|e| e.to_string())?;
    let db = connect(&postgres).await?;
    print_table(&db).await?;
    table_has_rows(&db).await
}

/// Fails when the table has no row: the run wrote nothing.
async fn table_has_rows(db: &tokio_postgres::Client) -> Result<(), String> {
    let row = db
        .query_one(&format!("SELECT count(*) FROM {TABLE}"), &[])
        .await
        .map_err(|e| format!("counting {TABLE}: {e}"))?;
    match row.get::<_, i64>(0) {
        0 => Err(format!(
            "{TABLE} has no row: no window closed (a window is written once the watermark, \
             2 s behind the latest view, passes its end; run longer, or with more --events)"
        )),
        _ => Ok(()),
    }
}

async fn connect(config: &str) -> Result<tokio_postgres::Client, String> {
    let (db, connection) = tokio_postgres::connect(config, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("PostgreSQL at {config}: {e}"))?;
    tokio::spawn(connection);
    Ok(db)
}

/// Writes `events` page views at `rate` per second, over 2 partitions, in
/// batches of a tenth of a second, each stamped with the time it is made.
async fn producer(bootstrap: String, topic: String, events: u64, rate: u64) {
    let producer = match Producer::connect(&bootstrap, &topic).await {
        Ok(producer) => producer,
        Err(e) => {
            eprintln!("producer: {e}");
            return;
        }
    };
    let per_tick = (rate / 10).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    // Late ticks are not made up in a burst: the views span at least
    // events / rate seconds, as the windows that close depend on it.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut made = 0;
    while made < events {
        tick.tick().await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let values: Vec<Vec<u8>> = (made..(made + per_tick).min(events))
            .map(|n| {
                let mix = stream_runtime::source::mix64(n);
                let view = PageView {
                    user: format!("u{}", mix % 1_000),
                    page: format!("/page/{}", (mix >> 20) % 20),
                    ts: now,
                };
                serde_json::to_vec(&view).unwrap_or_default()
            })
            .collect();
        let count = values.len() as u64;
        if let Err(e) = producer.send((made / per_tick % 2) as i32, values).await {
            eprintln!("producer: {e}");
            return;
        }
        made += count;
    }
    println!("producer: {events} page views written to {topic}");
}

/// Every 5 s, what the table holds.
async fn report(db: tokio_postgres::Client) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let query = format!("SELECT count(*), coalesce(sum(views), 0)::bigint FROM {TABLE}");
        if let Ok(row) = db.query_one(&query, &[]).await {
            let (windows, views): (i64, i64) = (row.get(0), row.get(1));
            println!("postgres: {windows} (page, window) rows holding {views} views");
        }
    }
}

/// The busiest closed windows, as `psql` would show them.
async fn print_table(db: &tokio_postgres::Client) -> Result<(), String> {
    let rows = db
        .query(
            &format!(
                "SELECT page, window_start, views FROM {TABLE} \
                 ORDER BY window_start DESC, views DESC LIMIT 10"
            ),
            &[],
        )
        .await
        .map_err(|e| format!("reading {TABLE}: {e}"))?;
    println!("\nSELECT page, window_start, views FROM {TABLE} ORDER BY window_start DESC, views DESC LIMIT 10;");
    for row in rows {
        let (page, start, views): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        println!("{page:>10} | {start} | {views}");
    }
    Ok(())
}
