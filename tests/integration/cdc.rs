//! Change data capture from a real PostgreSQL (`wal_level = logical`): the
//! snapshot of the rows there before, then inserts, updates and deletes over two tables and several transactions,
//! one of them larger than a round's batch, each change read once and in
//! commit order, through a restart of the endpoint; the slot confirmed
//! only up to what the pipeline holds; a dropped slot stops the pipeline
//! with a message that names it.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde_json::json;
use stream_runtime::postgres::cdc::{Change, Lsn, Op, PostgresCdc};
use stream_runtime::{CollectSink, Endpoint, Pipeline, ServiceNames};

use crate::harness::{harness, postgres, postgres_client};

const PIPELINE: &str = "CdcChanges";
const SLOT: &str = "cdc_changes_slot";

static OUT: LazyLock<CollectSink<Change>> = LazyLock::new(CollectSink::new);

fn endpoint() -> Endpoint {
    let source = PostgresCdc::new(postgres(), SLOT, "cdc_changes_pub")
        .unwrap_or_else(|e| panic!("{e}"))
        .tables(["cdc_orders", "public.cdc_items"]);
    // Batches of 5: the 8-row transaction is read over two rounds.
    let pipeline = Pipeline::named(PIPELINE)
        .batch_size(5)
        .source(source)
        .sink(OUT.clone());
    Endpoint::new().pipeline(pipeline)
}

/// What a change says, without its position and time.
fn seen(change: &Change) -> (String, Op, serde_json::Value, serde_json::Value) {
    let row = |row: &Option<stream_runtime::postgres::cdc::Row>| {
        row.clone()
            .map_or(serde_json::Value::Null, serde_json::Value::Object)
    };
    (
        change.table.clone(),
        change.op,
        row(&change.before),
        row(&change.after),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_read_once_in_commit_order_through_an_endpoint_restart() {
    let db = postgres_client().await;
    db.batch_execute(
        "CREATE TABLE cdc_orders (id int PRIMARY KEY, shop text NOT NULL, cents bigint, note jsonb, \
         paid boolean DEFAULT true); \
         CREATE TABLE cdc_items (id int PRIMARY KEY, name text); \
         ALTER TABLE cdc_items REPLICA IDENTITY FULL; \
         CREATE TABLE cdc_unpublished (id int PRIMARY KEY);",
    )
    .await
    .unwrap_or_else(|e| panic!("create: {e}"));
    // Before the slot exists: in the snapshot.
    db.batch_execute("INSERT INTO cdc_orders VALUES (100, 'before', 1, NULL)")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let h = harness();
    let names = ServiceNames::for_pipeline(PIPELINE);
    let served = h.serve_here(endpoint()).await;
    h.add_tokens(&names, 1).await;
    stream_support::postgres::wait_for_slot(&db, SLOT, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = stream_runtime::time::Millis::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default(),
    )
    .unwrap_or_default();

    let transactions = [
        "INSERT INTO cdc_orders VALUES (1, 'north', 1250, '{\"gift\": true}'), (2, 'south', 300, NULL), (3, 'north', 75, NULL)",
        "BEGIN; UPDATE cdc_orders SET cents = 1300 WHERE id = 1; DELETE FROM cdc_orders WHERE id = 2; \
         INSERT INTO cdc_items SELECT n, 'item ' || n FROM generate_series(1, 8) AS n; \
         INSERT INTO cdc_unpublished VALUES (1); COMMIT",
        "BEGIN; UPDATE cdc_items SET name = 'renamed' WHERE id = 3; DELETE FROM cdc_items WHERE id = 4; COMMIT",
    ];
    for sql in transactions {
        db.batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    h.wait_for(
        &names,
        Duration::from_secs(60),
        |_| {},
        |s| s.records_out >= 16,
    )
    .await;
    // The endpoint goes away while more commits; another one serves on.
    let (deployment, port) = (served.deployment.clone(), served.port);
    served.stop();
    db.batch_execute("BEGIN; UPDATE cdc_orders SET shop = 'east', note = NULL WHERE id = 3; INSERT INTO cdc_items VALUES (9, NULL); COMMIT")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _again = h.serve_again(&deployment, port, endpoint()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = h.status(&names).await;
        if status.records_out >= 18 {
            break status;
        }
        if Instant::now() > deadline {
            let left: Vec<serde_json::Value> = h
                .sql(&format!(
                    "SELECT target, status, retry_count, last_failure FROM sys_invocation \
                     WHERE target_service_name LIKE '{PIPELINE}%' AND status != 'completed'"
                ))
                .await;
            panic!("not all read after 60 s: {status:?}; invocations: {left:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (status.records_in, status.dead_letters),
        (18, 0),
        "{status:?}"
    );

    let order = |id: i64, shop: &str, cents: i64, note: serde_json::Value| json!({"id": id, "shop": shop, "cents": cents, "note": note, "paid": true});
    let item = |id: i64, name: serde_json::Value| json!({"id": id, "name": name});
    let orders = "public.cdc_orders".to_owned();
    let items = "public.cdc_items".to_owned();
    let null = serde_json::Value::Null;
    let mut expected = vec![
        (
            orders.clone(),
            Op::Read,
            null.clone(),
            order(100, "before", 1, null.clone()),
        ),
        (
            orders.clone(),
            Op::Insert,
            null.clone(),
            order(1, "north", 1250, json!({"gift": true})),
        ),
        (
            orders.clone(),
            Op::Insert,
            null.clone(),
            order(2, "south", 300, null.clone()),
        ),
        (
            orders.clone(),
            Op::Insert,
            null.clone(),
            order(3, "north", 75, null.clone()),
        ),
        (
            orders.clone(),
            Op::Update,
            null.clone(),
            order(1, "north", 1300, json!({"gift": true})),
        ),
        // The default replica identity gives a deleted row's key only.
        (
            orders.clone(),
            Op::Delete,
            json!({"id": 2, "shop": null, "cents": null, "note": null, "paid": null}),
            null.clone(),
        ),
    ];
    for n in 1..=8 {
        expected.push((
            items.clone(),
            Op::Insert,
            null.clone(),
            item(n, json!(format!("item {n}"))),
        ));
    }
    expected.extend([
        // Replica identity full: the whole row before.
        (
            items.clone(),
            Op::Update,
            item(3, json!("item 3")),
            item(3, json!("renamed")),
        ),
        (
            items.clone(),
            Op::Delete,
            item(4, json!("item 4")),
            null.clone(),
        ),
        (
            orders.clone(),
            Op::Update,
            null.clone(),
            order(3, "east", 75, null.clone()),
        ),
        (
            items.clone(),
            Op::Insert,
            null.clone(),
            item(9, null.clone()),
        ),
    ]);
    let changes = OUT.records();
    let got: Vec<_> = changes.iter().map(seen).collect();
    assert_eq!(got, expected, "each change once, in commit order");
    let lsns: Vec<Lsn> = changes
        .iter()
        .map(|c| c.lsn.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert!(
        lsns.windows(2).all(|w| w[0] <= w[1]),
        "commit positions go up: {lsns:?}"
    );
    assert_eq!(
        lsns.iter().collect::<std::collections::BTreeSet<_>>().len(),
        5,
        "the snapshot's position, and four transactions'"
    );
    assert!(
        changes.iter().all(|c| c.commit_millis >= started - 5_000),
        "commit times"
    );

    // The slot is confirmed up to the last transaction once it is durable
    // in the pipeline (the next pull, a moment later, says so), and past a
    // later one the stream does not send (it touched no published table),
    // so PostgreSQL need not keep its WAL.
    let unpublished = db
        .simple_query(
            "BEGIN; INSERT INTO cdc_unpublished VALUES (2); \
             SELECT pg_current_wal_insert_lsn()::text; COMMIT",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let last: Lsn = unpublished
        .iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no position"));
    assert!(last > lsns[lsns.len() - 1]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = db
            .query_one(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                &[&SLOT],
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let confirmed: Lsn = row
            .get::<_, String>(0)
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        if confirmed > last {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "confirmed {confirmed}, the unpublished transaction's changes at {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A dropped slot stops the pipeline, saying which.
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(error) = db
        .execute("SELECT pg_drop_replication_slot($1)", &[&SLOT])
        .await
    {
        // Active while a pull reads it: try again.
        assert!(Instant::now() < deadline, "drop the slot: {error}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.batch_execute("INSERT INTO cdc_orders VALUES (4, 'lost', 1, NULL)")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let halted = h
        .wait_for(&names, Duration::from_secs(60), |_| {}, |s| s.halted > 0)
        .await;
    let why = halted.conflict.unwrap_or_default();
    assert!(why.contains(SLOT) && why.contains("dropped"), "{why}");
    assert_eq!(OUT.records().len(), 18, "nothing more was read");
}
