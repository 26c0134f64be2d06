// Every stage, options, stateless stages on both sides of the keyed one,
// and two pipelines bound to one endpoint.
use stream_runtime::{pipeline, CollectSink, ConsoleSink, InMemorySource, Sequence};

pipeline! {
    /// Lengths of long words, summed per first letter.
    pub Letters(batch_size = 500, key_groups = 32):
    source(InMemorySource::new(["alpha beta", "gamma", "delta epsilon"]))
    |> flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
    |> filter(|word| word.len() > 4)
    |> map(|word| (word.chars().next().unwrap_or('?'), word.len()))
    |> key_by(|(letter, _)| *letter)
    |> process(|(letter, len), ctx| {
        let mut total = ctx.reducing("total", |a: usize, b: usize| a + b);
        total.add(len);
        let total = total.get().unwrap_or(0);
        ctx.collect(format!("{letter}: {total}"));
    })
    |> flat_map(|line| vec![line.clone(), line])
    |> sink(ConsoleSink::new())
}

pipeline! {
    Evens:
    source(Sequence::new())
    |> filter(|n| n % 2 == 0)
    |> sink(CollectSink::<u64>::new())
}

fn main() {
    let endpoint = stream_runtime::Endpoint::new().pipeline(Letters).pipeline(Evens);
    assert_eq!(endpoint.names().count(), 2);
    endpoint.build().expect("distinct names bind together");
}
