//! A branch of the typed API: [`Stream::branch`]'s second chain, its
//! stateless stages and its sink, and the origin ([`Tapped`]) the main
//! chain reads after it.

use std::marker::PhantomData;

use super::origin::{Complete, Origin};
use super::{Head, Pipeline, Stream};
use crate::branch::Branch;
use crate::complete::CompletePipeline;
use crate::keyed::Unkeyed;
use crate::operator::{Filter, FlatMap, Identity, Map, Operator, Then};
use crate::record::Record;
use crate::sink::Sink;
use crate::source::Source;
use crate::stages::Level;

/// The second chain of a [`branch`](Stream::branch): stateless stages over
/// the records at the branch point (`T`), then a sink.
pub struct BranchStream<T, Op> {
    stages: Op,
    input: PhantomData<fn(T)>,
}

/// A branch's chain with its sink: what [`Stream::branch`]'s closure gives.
pub struct BranchEnd<Op, Sk> {
    stages: Op,
    sink: Sk,
}

impl<T: 'static, Op: Operator<T>> BranchStream<T, Op> {
    fn then<Next>(self, next: Next) -> BranchStream<T, Then<Op, Next>> {
        BranchStream {
            stages: Then::new(self.stages, next),
            input: PhantomData,
        }
    }

    /// Transforms each record into one new record.
    pub fn map<U, F>(self, f: F) -> BranchStream<T, Then<Op, Map<F, U>>>
    where
        F: Fn(Op::Out) -> U + Send + Sync + 'static,
        U: 'static,
    {
        self.then(Map::new(f))
    }

    /// Keeps the records for which `predicate` holds.
    pub fn filter<F>(self, predicate: F) -> BranchStream<T, Then<Op, Filter<F>>>
    where
        F: Fn(&Op::Out) -> bool + Send + Sync + 'static,
    {
        self.then(Filter::new(predicate))
    }

    /// Transforms each record into any number of records.
    pub fn flat_map<I, F>(self, f: F) -> BranchStream<T, Then<Op, FlatMap<F, I>>>
    where
        F: Fn(Op::Out) -> I + Send + Sync + 'static,
        I: IntoIterator + 'static,
    {
        self.then(FlatMap::new(f))
    }

    /// Writes the branch to `sink`, exactly-once, as a pipeline's sink.
    pub fn sink<Sk>(self, sink: Sk) -> BranchEnd<Op, Sk>
    where
        Op::Out: Record,
        Sk: Sink<Op::Out>,
    {
        BranchEnd {
            stages: self.stages,
            sink,
        }
    }
}

/// A source with the stages before a branch point and the branch: what
/// the main chain after [`Stream::branch`] reads.
pub struct Tapped<S, Before, Op, Sk> {
    source: S,
    branch: Branch<Before, Op, Sk>,
}

impl<S, Before, Op, Sk> Origin for Tapped<S, Before, Op, Sk>
where
    S: Source,
    Before: Operator<S::Item>,
{
    type Item = Before::Out;
}

#[allow(private_bounds)]
impl<S, Before, Op, Sk, Pre, L> Complete<Pre, L> for Tapped<S, Before, Op, Sk>
where
    S: Source,
    Before: Operator<S::Item>,
    Before::Out: Clone,
    Op: Operator<Before::Out>,
    Op::Out: Record,
    Sk: Sink<Op::Out>,
    Pre: Operator<Before::Out>,
    Pre::Out: Record,
    L: Level<Mid = Pre::Out>,
{
    fn complete(self, pipeline: Pipeline, pre: Pre, level: L) -> CompletePipeline {
        super::origin::completed(pipeline, self.source, self.branch, pre, level)
    }
}

#[cfg(test)]
impl<S, Before, Op, Sk0, Pre, K, Post> Stream<Tapped<S, Before, Op, Sk0>, Pre, K, Post> {
    /// A branched line's stages with `sink`, before they are hidden.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_branched_stages<Sk>(
        self,
        sink: Sk,
    ) -> crate::stages::Stages<
        S,
        Branch<Before, Op, Sk0>,
        Pre,
        crate::stages::Chained<Pre::Out, K, Post, crate::stages::ToSink<Sk>>,
    >
    where
        S: Source,
        Before: Operator<S::Item>,
        Pre: Operator<Before::Out>,
        K: crate::keyed::KeyedStage<Pre::Out>,
        Post: Operator<K::Out>,
    {
        let (head, pre, last) = self.ending_in(sink);
        crate::stages::Stages {
            name: head.pipeline.name,
            config: head.pipeline.config,
            source: head.source.source,
            branch: head.source.branch,
            pre,
            first: std::sync::Arc::new(last),
        }
    }
}

impl<S, Pre, Post> Stream<S, Pre, Unkeyed, Post>
where
    S: Source,
    Pre: Operator<S::Item>,
    Post: Operator<Pre::Out>,
    Post::Out: Clone + 'static,
{
    /// Feeds the stream to a second chain as well (Flink: two operators
    /// reading one `DataStream`): `branch` gives that chain's stateless
    /// stages and its sink, and the stream goes on here, to `key_by` or a
    /// sink of its own. The source is read once; each record goes down
    /// both, and each sink is written exactly-once on its own. Before
    /// `key_by`, once per pipeline.
    ///
    /// ```
    /// use stream_runtime::{CollectSink, FileSink, Pipeline, Sequence};
    ///
    /// // Every number archived as it is, and a running count per key.
    /// let archived = Pipeline::named("Archived")
    ///     .source(Sequence::new().take(1_000))
    ///     .map(|n| (n % 10, n))
    ///     .branch(|raw| raw.sink(FileSink::new("/tmp/archive.jsonl")))
    ///     .key_by(|(key, _)| *key)
    ///     .reduce(|(key, a), (_, b)| (key, a + b))
    ///     .sink(CollectSink::new());
    /// # let _ = archived;
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn branch<Op, Sk>(
        self,
        branch: impl FnOnce(BranchStream<Post::Out, Identity>) -> BranchEnd<Op, Sk>,
    ) -> Stream<Tapped<S, Then<Pre, Post>, Op, Sk>, Identity, Unkeyed, Identity>
    where
        Op: Operator<Post::Out>,
    {
        let (Head { pipeline, source }, pre, post) = self.into_parts();
        let end = branch(BranchStream {
            stages: Identity,
            input: PhantomData,
        });
        let tapped = Tapped {
            source,
            branch: Branch {
                before: Then::new(pre, post),
                stages: end.stages,
                sink: end.sink,
            },
        };
        Stream::new_at(Head {
            pipeline,
            source: tapped,
        })
    }
}
