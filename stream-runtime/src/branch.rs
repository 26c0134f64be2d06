//! A branch: one stream, before `key_by`, feeding a second chain of
//! stateless stages that ends in a sink of its own, beside the main chain
//! (Flink: two operators reading one `DataStream`). The source is read
//! once; each record that reaches the branch point goes down both.
//!
//! The branch's records are written by the token's round, in the same
//! round as the main chain's, to the branch's own sink partitions (after
//! the main sink's, in the same sink service, by its `writeSide`
//! handler), each with its committed offset: each sink exactly-once on its
//! own.
//!
//! A record is one unit before `key_by`: the stages of both chains run on
//! it in one attempt, so a function that fails on it, in either chain,
//! fails the attempt; it is tried again, and after its attempts it goes to
//! the dead-letter output as a record of the stages before `key_by`, in
//! neither sink. The branch's records of a failed attempt are dropped with
//! it, so none is written twice.

use std::future::Future;
use std::io;

use crate::operator::Operator;
use crate::record::Record;
use crate::sink::{Sink, SinkCall};
use crate::time::Stamps;

/// What a pipeline does between its source and its main chain: nothing
/// ([`NoBranch`]), or a [`Branch`].
pub(crate) trait Branching<In>: Send + Sync + 'static {
    /// What reaches the main chain (the records at the branch point).
    type Out;
    /// What the branch's sink takes.
    type Side: Record;

    /// One source record: what reaches the branch point goes on to
    /// `out`, and, through the branch's stages, to `side`.
    fn apply<E: FnMut(Self::Out)>(
        &self,
        record: In,
        out: &mut E,
        side: &mut Vec<Self::Side>,
        stamps: &Stamps,
    );
    /// The branch's sink partitions (none without a branch).
    fn partitions(&self) -> u32;
    /// The branch sink's partition for a record of token `token`.
    fn route(&self, token: u64, record: &Self::Side) -> u32;
    /// Calls a partition of the branch's sink: a batch's write, or where
    /// the next starts after a failed one.
    fn write(
        &self,
        partition: u32,
        committed: u64,
        call: SinkCall<'_, Self::Side>,
    ) -> impl Future<Output = io::Result<u64>> + Send;
}

/// No branch: every record goes on to the main chain.
pub(crate) struct NoBranch;

impl<In: Send + 'static> Branching<In> for NoBranch {
    type Out = In;
    type Side = ();

    fn apply<E: FnMut(In)>(&self, record: In, out: &mut E, _: &mut Vec<()>, _: &Stamps) {
        out(record)
    }

    fn partitions(&self) -> u32 {
        0
    }

    fn route(&self, _: u64, _: &()) -> u32 {
        0
    }

    fn write(
        &self,
        _: u32,
        _: u64,
        _: SinkCall<'_, ()>,
    ) -> impl Future<Output = io::Result<u64>> + Send {
        std::future::ready(Err(io::Error::other(
            "this pipeline has no branch to write",
        )))
    }
}

/// The stages before the branch point (`before`), and the branch: its
/// stateless stages (`stages`) and its sink.
pub(crate) struct Branch<Before, Stages, Sk> {
    pub(crate) before: Before,
    pub(crate) stages: Stages,
    pub(crate) sink: Sk,
}

impl<In, Before, Stages, Sk> Branching<In> for Branch<Before, Stages, Sk>
where
    In: 'static,
    Before: Operator<In>,
    Before::Out: Clone,
    Stages: Operator<Before::Out>,
    Stages::Out: Record,
    Sk: Sink<Stages::Out>,
{
    type Out = Before::Out;
    type Side = Stages::Out;

    fn apply<E: FnMut(Before::Out)>(
        &self,
        record: In,
        out: &mut E,
        side: &mut Vec<Stages::Out>,
        stamps: &Stamps,
    ) {
        let mut emit = |record: Before::Out| {
            self.stages.apply(record.clone(), &mut |s| side.push(s));
            out(record);
        };
        self.before.apply_stamped(record, &mut emit, stamps);
    }

    fn partitions(&self) -> u32 {
        self.sink.partitions().max(1)
    }

    fn route(&self, token: u64, record: &Stages::Out) -> u32 {
        self.sink.route(token, record) % self.partitions()
    }

    fn write(
        &self,
        partition: u32,
        committed: u64,
        call: SinkCall<'_, Stages::Out>,
    ) -> impl Future<Output = io::Result<u64>> + Send {
        call.to(&self.sink, partition, committed)
    }
}

#[cfg(test)]
mod tests {
    use crate::builder::Pipeline;
    use crate::driver::TestDriver;
    use crate::sink::CollectSink;
    use crate::source::InMemorySource;
    use crate::testing::block_on;
    use crate::time::Watermarks;
    use crate::window::{tumbling, Windowed};

    #[test]
    fn each_record_reaches_the_branch_once_and_the_main_chain_once() {
        let (raw, counts) = (CollectSink::new(), CollectSink::new());
        let pipeline = Pipeline::named("B")
            .source(InMemorySource::new(vec![1u64, 2, 3, 4, 5, 6]).with_splits(2))
            .map(|n| (n % 2, n))
            .branch(|b| {
                b.filter(|(_, n)| *n > 2)
                    .map(|(_, n)| n * 10)
                    .sink(raw.clone())
            })
            .key_by(|(parity, _)| *parity)
            .reduce(|(parity, a), (_, b)| (parity, a + b))
            .sink(counts.clone());
        let mut driver = TestDriver::new(pipeline);
        block_on(driver.run_to_end()).expect("runs");
        let mut raw = raw.records();
        raw.sort_unstable();
        assert_eq!(raw, [30, 40, 50, 60]);
        let mut totals = std::collections::BTreeMap::new();
        for (parity, total) in counts.records() {
            let max = totals.entry(parity).or_insert(0);
            *max = total.max(*max);
        }
        assert_eq!(totals, [(0, 12), (1, 9)].into());
        assert_eq!(driver.records_out(), 4 + 6);
    }

    #[test]
    fn a_branch_after_event_time_keeps_the_main_chains_watermark() {
        let (raw, windows) = (CollectSink::new(), CollectSink::<Windowed<u64, u64>>::new());
        let pipeline = Pipeline::named("W")
            .source(InMemorySource::new(vec![
                (1u64, 100i64),
                (2, 900),
                (1, 1_200),
            ]))
            .event_time(|r| r.1, Watermarks::max_delay(std::time::Duration::ZERO))
            .branch(|b| b.map(|r| r.0).sink(raw.clone()))
            .key_by(|r| r.0)
            .window(tumbling(std::time::Duration::from_secs(1)))
            .aggregate(0u64, |n, _| *n += 1)
            .sink(windows.clone());
        let mut driver = TestDriver::new(pipeline);
        block_on(driver.read(3)).expect("reads");
        // The third record moved the watermark past the first second.
        assert_eq!(windows.records().len(), 2);
        assert_eq!(raw.records(), [1, 2, 1]);
    }

    #[test]
    fn a_record_a_branch_fails_on_reaches_neither_sink_and_is_dead_lettered_once() {
        let (raw, out) = (CollectSink::new(), CollectSink::new());
        let pipeline = Pipeline::named("F")
            .max_attempts(2)
            .source(InMemorySource::new(vec![1u64, 2, 3]))
            .branch(|b| {
                b.map(|n| {
                    assert_ne!(n, 2, "the branch fails on 2");
                    n
                })
                .sink(raw.clone())
            })
            .map(|n| n * 100)
            .sink(out.clone());
        let mut driver = TestDriver::new(pipeline);
        block_on(driver.run_to_end()).expect("runs");
        assert_eq!(raw.records(), [1, 3]);
        assert_eq!(out.records(), [100, 300]);
        let letters = driver.dead_letters();
        assert_eq!(letters.len(), 1, "{letters:?}");
        assert!(
            letters[0].error.contains("the branch fails on 2"),
            "{letters:?}"
        );
    }
}
