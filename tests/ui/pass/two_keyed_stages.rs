//! Two keyed stages in a row: a count per word per window, then the top
//! 3 words of each window, keyed by the window.

use stream_runtime::window::Windowed;
use stream_runtime::{pipeline, CollectSink, InMemorySource};

pipeline! {
    TopWords:
    source(InMemorySource::new(vec![("to".to_string(), 0i64), ("be".to_string(), 1_000)]))
    |> event_time(|r| r.1, max_delay = 1s)
    |> key_by(|r| r.0.clone())
    |> window(tumbling(5s))
    |> aggregate(0u64, |count, _| *count += 1)
    |> key_by(|w: &Windowed<String, u64>| w.start)
    |> window(tumbling(5s))
    |> aggregate(Vec::new(), |top: &mut Vec<(u64, String)>, w| {
        top.push((w.value, w.key));
        top.sort_by(|a, b| b.cmp(a));
        top.truncate(3);
    })
    |> sink(CollectSink::new())
}

pipeline! {
    RunningTotals:
    source(InMemorySource::new(vec![1u64, 2, 3, 4]))
    |> key_by(|n| n % 2)
    |> reduce(|a, b| a + b)
    |> map(|n| n * 10)
    |> key_by(|n| n % 3)
    |> reduce(|a, b| a + b)
    |> sink(CollectSink::<u64>::new())
}

fn main() {}
