// A parameter that is not `Clone` (as a connector is not) is moved into the
// one stage that uses it; the struct is `Clone` only when every field is.
use stream_runtime::{pipeline, ConsoleSink, InMemorySource};

/// A source handed in from `main`, as a connected `KafkaSource` is.
struct Words(InMemorySource<String>);

pipeline! {
    Connected(words: Words, min_len: usize):
    source(words.0)
    |> filter(|w| w.len() >= min_len)
    |> map(|w| w.len() + min_len)
    |> sink(ConsoleSink::new())
}

fn main() {
    let words = Words(InMemorySource::new(vec!["a".to_owned(), "bcd".to_owned()]));
    let pipeline = Connected { words, min_len: 2 };
    stream_runtime::Endpoint::new().pipeline(pipeline).build().expect("it builds");
}
