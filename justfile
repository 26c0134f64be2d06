# The examples build in the debug profile, as the README's quick start does, so that
# the two share one build; `bench`, `chaos` and `cluster` measure, so they build release.

# `just run-continuous --fresh` starts over; data lives in target/restate-dev.
# Runs the continuous word count against a local Restate server started for you.
run-continuous *ARGS:
    cargo run --example continuous_word_count -- {{ARGS}}

# The bounded word count: starts, finishes by itself, prints the counts.
run-bounded *ARGS:
    cargo run --example word_count -- {{ARGS}}

# Event-time windows: 10 s means per sensor over out-of-order readings, to /tmp/sensor-windows.jsonl.
run-windows *ARGS:
    cargo run --example sensor_windows -- {{ARGS}}

# Two keyed stages: each second's top 3 words, to /tmp/top-words.jsonl.
run-top-words *ARGS:
    cargo run --example top_words -- {{ARGS}}

# Every test, against a real restate-server (installed from npm on first use).
test:
    cargo test --workspace --all-features

# About 8 minutes of tables (word count, then windows, then idle tokens), then a
# 10-minute soak checked exactly once; `just bench --quick` is smaller, with a
# 1-minute soak; `--windows` and `--idle` run one part (see examples/bench/main.rs).
bench *ARGS:
    cargo run --release --features connectors --example bench -- {{ARGS}}

# The word count beside Kafka Streams and Flink on one broker, each after the others,
# over a few million JSON words (15 words, then 100,000 Zipf keys); `--quick` is smaller.
bench-peers *ARGS:
    cargo run --release --features connectors --example bench -- --peers {{ARGS}}

# Fault-injection soak: 100,000 records, 30 endpoint and 5 server SIGKILLs, for each
# built-in pipeline (`--pipeline window` for one, `--help` lists them; a broker and
# PostgreSQL are started for those that need them).
chaos *ARGS:
    cargo build --release --features connectors --bin chaos_endpoint
    cargo run --release --features connectors --example chaos -- {{ARGS}}

# The word count on one restate-server, then on a 3-node cluster (replication 2) with 2
# endpoint replicas behind nginx: a node and a replica SIGKILLed and restarted, 6 tokens
# added mid-run, snapshots to an S3-compatible store (moto, from PyPI), the output checked
# exactly; nginx comes from Debian's packages.
cluster *ARGS:
    cargo build --release --features connectors --bin chaos_endpoint
    cargo run --release --features connectors --example chaos -- --pipeline count --shape 1x1,3x2 --records 100000 --batch 100 --endpoint-kills 1 --server-kills 1 --add-tokens 6 --snapshots {{ARGS}}

# Page views from Kafka, counted per page per 10 s window, upserted into PostgreSQL;
# starts a broker and PostgreSQL unless given `--bootstrap` and `--postgres`.
run-kafka *ARGS:
    cargo run --features connectors --example kafka_to_postgres -- {{ARGS}}

# Orders from a PostgreSQL table by change data capture, summed per shop per 10 s, into
# a Kafka topic; starts PostgreSQL and a broker unless given `--postgres` and `--bootstrap`.
run-cdc *ARGS:
    cargo run --features connectors --example cdc_orders -- {{ARGS}}

# The word count over lines pushed over HTTP (`curl`, or `cargo run --example push_lines < FILE`).
run-push *ARGS:
    cargo run --example push_word_count -- {{ARGS}}

# A Kafka broker on 127.0.0.1:9092 for manual use (jars from Maven Central on first use; --fresh starts over).
kafka *ARGS:
    cargo run --features connectors --example kafka_broker -- {{ARGS}}

# Needs `cargo install mdbook --version 0.5.4 --locked`; its Rust blocks run in `just test`.
# What `cargo publish` would upload of the three published crates, built from their packages.
package:
    cargo publish --dry-run -p stream-macros -p stream-runtime -p stream-runner

# The guide (docs/), served with live reload at http://localhost:3000.
guide:
    mdbook serve docs -d target/book
