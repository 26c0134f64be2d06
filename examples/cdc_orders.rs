//! Change data capture: the orders of a PostgreSQL table, as they are
//! inserted, summed per shop per 10 s of commit time, each window's total
//! written once to a Kafka topic.
//!
//! ```sh
//! just run-cdc          # cargo run --features connectors --example cdc_orders
//! ```
//!
//! With no `--postgres`, it starts a PostgreSQL (Debian's package, with
//! `wal_level = logical`); with no `--bootstrap`, a Kafka broker. It makes
//! the `orders` table with a few rows (they come in the snapshot), then
//! writes `--orders` more at `--rate` per second while the pipeline runs;
//! the runner prints progress, and at the end the topic's windows are
//! printed. A window is written once the watermark (1 s behind the latest
//! commit, or the slot idle for 3 s) passes its end.

use std::time::Duration;

use clap::Parser;
use serde::{Deserialize, Serialize};
use stream_runner::{Runner, RunnerArgs};
use stream_runtime::kafka::KafkaSink;
use stream_runtime::postgres::cdc::{Change, Op, PostgresCdc};
use stream_runtime::time::Watermarks;
use stream_runtime::window::tumbling;
use stream_runtime::Pipeline;
use stream_support::kafka::{create_topic, read_all};
use stream_support::servers::given_or_started;

/// An order, as the table holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    shop: String,
    cents: i64,
}

/// A shop's orders in one window, as the topic gets it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ShopTotal {
    shop: String,
    window_start: i64,
    orders: u64,
    cents: i64,
}

/// Orders from PostgreSQL, per shop per 10 s, into Kafka.
#[derive(Parser)]
struct Cli {
    /// A PostgreSQL connection string to use instead of starting one
    /// (`host=127.0.0.1 port=5432 user=postgres`; `wal_level = logical`)
    #[arg(long)]
    postgres: Option<String>,
    /// A Kafka broker (`host:port`) to use instead of starting one
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic the totals go to (created if missing)
    #[arg(long, default_value = "shop-totals")]
    topic: String,
    /// Orders the built-in writer inserts while the pipeline runs (0: none)
    #[arg(long, default_value_t = 3_000)]
    orders: u64,
    /// Orders per second it inserts
    #[arg(long, default_value_t = 300)]
    rate: u64,
    #[command(flatten)]
    runner: RunnerArgs,
}

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
    if cli.runner.duration.is_none() && cli.postgres.is_none() {
        // The built-in servers stop with the example: run while the writer
        // writes, and a little after, for the last windows to close.
        cli.runner.duration = Some(cli.orders / cli.rate.max(1) + 15);
    }
    if cli.postgres.is_none() && !cli.runner.fresh {
        // A new database each run: the slot this pipeline read from an
        // earlier one is gone, so its state starts over too.
        println!("a new PostgreSQL each run: the pipeline's state starts over too (as --fresh)");
        cli.runner.fresh = true;
    }
    let scratch = std::env::temp_dir().join(format!("cdc-orders-{}", std::process::id()));
    let servers = given_or_started(cli.postgres.clone(), cli.bootstrap.clone(), &scratch).await?;
    let (postgres, bootstrap) = (servers.postgres.clone(), servers.bootstrap.clone());
    if let Err(e) = create_topic(&bootstrap, &cli.topic, 1).await {
        if !e.contains("exists") {
            return Err(format!("creating topic {}: {e}", cli.topic));
        }
    }
    let db = connect(&postgres).await?;
    db.batch_execute(
        "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, shop text NOT NULL, \
         cents bigint NOT NULL); \
         INSERT INTO orders (shop, cents) VALUES ('north', 1250), ('south', 300), ('east', 75)",
    )
    .await
    .map_err(|e| format!("creating orders: {e}"))?;
    println!("PostgreSQL: psql \"{postgres}\" -c 'SELECT * FROM orders ORDER BY id DESC LIMIT 5'");
    println!("Kafka at {bootstrap}: the totals go to topic {}", cli.topic);

    let orders = PostgresCdc::new(&postgres, "orders_slot", "orders_pub")
        .map_err(|e| e.to_string())?
        .tables(["orders"]);
    let sink = KafkaSink::<ShopTotal>::json(&bootstrap, &cli.topic)
        .await
        .map_err(|e| e.to_string())?;
    let pipeline = Pipeline::named("ShopTotals")
        .source(orders)
        .filter(|change: &Change| matches!(change.op, Op::Read | Op::Insert))
        .map(|change| {
            let order: Order = change.row().unwrap_or_else(|e| panic!("not an order: {e}"));
            (order, change.commit_millis)
        })
        .event_time(
            |(_, committed)| *committed,
            Watermarks::max_delay(Duration::from_secs(1)).idle(Duration::from_secs(3)),
        )
        .key_by(|timed| timed.0.shop.clone())
        .window(tumbling(Duration::from_secs(10)))
        .aggregate((0u64, 0i64), |(orders, cents), timed| {
            *orders += 1;
            *cents += timed.0.cents;
        })
        .map(|w| ShopTotal {
            shop: w.key,
            window_start: w.start,
            orders: w.value.0,
            cents: w.value.1,
        })
        .sink(sink);

    if cli.orders > 0 {
        tokio::spawn(writer(db, cli.orders, cli.rate));
    }
    Runner::new(cli.runner)
        .pipeline(pipeline)
        .run()
        .await
        .map_err(|e| e.to_string())?;
    print_totals(&bootstrap, &cli.topic).await
}

async fn connect(config: &str) -> Result<tokio_postgres::Client, String> {
    let (db, connection) = tokio_postgres::connect(config, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("PostgreSQL at {config}: {e}"))?;
    tokio::spawn(connection);
    Ok(db)
}

/// Inserts `orders` orders at `rate` per second, a tenth of a second's in
/// each transaction.
async fn writer(db: tokio_postgres::Client, orders: u64, rate: u64) {
    let per_tick = (rate / 10).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut made = 0;
    while made < orders {
        tick.tick().await;
        let count = per_tick.min(orders - made);
        let values: Vec<String> = (made..made + count)
            .map(|n| {
                let mix = stream_runtime::source::mix64(n);
                let shop = ["north", "south", "east", "west"][(mix % 4) as usize];
                format!("('{shop}', {})", 100 + mix % 5_000)
            })
            .collect();
        let insert = format!(
            "INSERT INTO orders (shop, cents) VALUES {}",
            values.join(", ")
        );
        if let Err(e) = db.batch_execute(&insert).await {
            eprintln!("writer: {e}");
            return;
        }
        made += count;
    }
    println!("writer: {orders} orders inserted");
}

/// The windows the topic holds; fails when it holds none (the run wrote
/// nothing).
async fn print_totals(bootstrap: &str, topic: &str) -> Result<(), String> {
    let values = read_all(bootstrap, topic).await?;
    println!("\n{topic}: {} windows", values.len());
    for value in values.iter().rev().take(8) {
        println!("  {}", String::from_utf8_lossy(value));
    }
    if values.is_empty() {
        return Err(format!(
            "{topic} has no window: none closed (a window is written once the watermark passes \
             its end; run longer, or with more --orders)"
        ));
    }
    Ok(())
}
