use std::path::PathBuf;

use stream_runtime::{pipeline, FileSink, Sequence};

pipeline! {
    Doubled(out: PathBuf):
    source(Sequence::new())
    |> mapp(|n| n * 2)
    |> sink(FileSink::new(out))
}

fn main() {
    // Only the misspelt stage is an error: the struct, its fields and its
    // uses still compile.
    let pipeline = Doubled { out: "/tmp/doubled.txt".into() };
    let _ = stream_runtime::Endpoint::new().pipeline(pipeline);
    let _ = Doubled::service_names();
}
