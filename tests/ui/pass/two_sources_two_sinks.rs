// The guide's "Two sources, two sinks": two topics read as one, valid
// views to a file and rejected ones to PostgreSQL, the connectors given as
// parameters.
use serde::{Deserialize, Serialize};
use stream_runtime::kafka::{KafkaSource, NotJson};
use stream_runtime::postgres::PostgresSink;
use stream_runtime::sink::{SideOutput, To};
use stream_runtime::{pipeline, FileSink};

#[derive(Clone, Serialize, Deserialize)]
struct View {
    page: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct Rejected {
    offset: u64,
    why: String,
}

pipeline! {
    CheckedViews(clicks: KafkaSource, more_clicks: KafkaSource, rejected: PostgresSink<Rejected>):
    source(clicks)
    |> union(more_clicks)
    |> map(|r| (r.json::<View>(), r.offset))
    |> sink(SideOutput::new(
        |(view, offset): &(Result<View, NotJson>, u64)| match view {
            Ok(view) => To::Main(view.clone()),
            Err(why) => To::Side(Rejected { offset: *offset, why: why.to_string() }),
        },
        FileSink::new("/tmp/views.jsonl"),
        rejected,
    ))
}

fn main() {
    // Built with connected sources and a connected sink, as in
    // examples/kafka_to_postgres.rs.
    let _ = |clicks, more_clicks, rejected| CheckedViews { clicks, more_clicks, rejected };
}
