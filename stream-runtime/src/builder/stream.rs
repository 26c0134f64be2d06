//! `Stream`: the typed API's stream of records (source, stages before
//! `key_by`, keyed stage, stages after it), with `union`, `connect`, `map`,
//! `filter`, `flat_map`, `event_time`, `key_by` and `sink`.

use std::marker::PhantomData;

use super::origin::{Complete, Origin, Upstream};
use super::{Head, KeyedStream};
use crate::complete::CompletePipeline;
use crate::keyed::{Chainable, KeyedStage, Unkeyed};
use crate::operator::EventTime;
use crate::operator::{Filter, FlatMap, Identity, Map, Operator, Then};
use crate::record::{Key, Record};
use crate::sink::Sink;
use crate::source::{Source, Union};
use crate::stages::{Chained, ToSink};
use crate::time::{Millis, Watermarks};

/// A stream of records: a source, the operators before `key_by` (`Pre`),
/// an optional keyed stage (`K`), and the operators after it (`Post`).
///
/// Stateless operators are appended to `Post`; `key_by` folds them into `Pre`.
/// Closures infer their input types from the stream, as iterator adapters do.
pub struct Stream<S, Pre, K, Post> {
    head: Head<S>,
    pre: Pre,
    keyed: K,
    post: Post,
}

impl<S: Source> Stream<S, Identity, Unkeyed, Identity> {
    pub(crate) fn new(head: Head<S>) -> Self {
        Self {
            head,
            pre: Identity,
            keyed: Unkeyed,
            post: Identity,
        }
    }
}

impl<S: Source> Stream<S, Identity, Unkeyed, Identity> {
    /// Reads `other`'s records too, as one stream (Flink's `union`): its
    /// splits come after this source's, each with its own position,
    /// watermark and idleness (see [`Union`]). Directly after the source,
    /// so both give records of one type; map after the union.
    ///
    /// ```
    /// use stream_runtime::{CollectSink, InMemorySource, Pipeline, Sequence};
    ///
    /// let both = Pipeline::named("Both")
    ///     .source(Sequence::new().take(100))
    ///     .union(InMemorySource::new(vec![1_000u64, 2_000]))
    ///     .filter(|n| n % 2 == 0)
    ///     .sink(CollectSink::new());
    /// # let _ = both;
    /// ```
    pub fn union<S2>(self, other: S2) -> Stream<Union<S, S2>, Identity, Unkeyed, Identity>
    where
        S2: Source<Item = S::Item>,
    {
        let Head { pipeline, source } = self.head;
        Stream::new(Head {
            pipeline,
            source: Union::new(source, other),
        })
    }
}

impl<S: Source> Stream<S, Identity, Unkeyed, Identity> {
    /// Reads `other` too, as a second input of another record type
    /// (Flink's `connect`): this source's records become
    /// [`Either::Left`](crate::source::Either), `other`'s
    /// [`Either::Right`](crate::source::Either), in one stream whose splits
    /// are this source's, then `other`'s, each with its own position,
    /// watermark and idleness. Key both with one `key_by` (the key both
    /// sides share), then join them with
    /// [`interval_join`](crate::KeyedStream::interval_join), or keep one
    /// side's latest value for the other with `process` (a stream-table
    /// join). Directly after the source.
    ///
    /// ```
    /// use stream_runtime::source::Either;
    /// use stream_runtime::{CollectSink, InMemorySource, Pipeline};
    ///
    /// // Clicks of (user, page), enriched with each user's latest name.
    /// let enriched = Pipeline::named("Enriched")
    ///     .source(InMemorySource::new(vec![(1u32, "/home".to_string())]))
    ///     .connect(InMemorySource::new(vec![(1u32, "ada".to_string())]))
    ///     .key_by(|e| e.either(|click| click.0, |user| user.0))
    ///     .process(|e, ctx| match e {
    ///         Either::Right((_, name)) => ctx.value("name").set(name),
    ///         Either::Left((_, page)) => {
    ///             let name: Option<String> = ctx.value("name").get();
    ///             ctx.collect((page, name));
    ///         }
    ///     })
    ///     .sink(CollectSink::new());
    /// # let _ = enriched;
    /// ```
    pub fn connect<S2>(
        self,
        other: S2,
    ) -> Stream<crate::source::Connect<S, S2>, Identity, Unkeyed, Identity>
    where
        S2: Source,
    {
        let Head { pipeline, source } = self.head;
        Stream::new(Head {
            pipeline,
            source: crate::source::connect(source, other),
        })
    }
}

impl<S> Stream<S, Identity, Unkeyed, Identity> {
    /// A stream reading `head`'s origin, with no stage yet.
    pub(crate) fn new_at(head: Head<S>) -> Self {
        Self {
            head,
            pre: Identity,
            keyed: Unkeyed,
            post: Identity,
        }
    }
}

impl<S, Pre, Post> Stream<S, Pre, Unkeyed, Post> {
    /// The head and the stages of an unkeyed stream.
    pub(crate) fn into_parts(self) -> (Head<S>, Pre, Post) {
        (self.head, self.pre, self.post)
    }
}

impl<S, Pre, K, Post> Stream<S, Pre, K, Post> {
    /// The head and every stage of a stream.
    pub(crate) fn into_all(self) -> (Head<S>, Pre, K, Post) {
        (self.head, self.pre, self.keyed, self.post)
    }

    /// A stream of `head` with these stages.
    pub(crate) fn from_parts(head: Head<S>, pre: Pre, keyed: K, post: Post) -> Self {
        Self {
            head,
            pre,
            keyed,
            post,
        }
    }
}

impl<S, Pre, K> Stream<S, Pre, K, Identity> {
    pub(crate) fn keyed(head: Head<S>, pre: Pre, keyed: K) -> Self {
        Self {
            head,
            pre,
            keyed,
            post: Identity,
        }
    }
}

impl<S, Pre, K, Post> Stream<S, Pre, K, Post>
where
    S: Origin,
    Pre: Operator<S::Item>,
    K: KeyedStage<Pre::Out>,
    Post: Operator<K::Out>,
{
    fn then<Op>(self, op: Op) -> Stream<S, Pre, K, Then<Post, Op>> {
        Stream {
            head: self.head,
            pre: self.pre,
            keyed: self.keyed,
            post: Then::new(self.post, op),
        }
    }

    /// Transforms each record into one new record.
    pub fn map<U, F>(self, f: F) -> Stream<S, Pre, K, Then<Post, Map<F, U>>>
    where
        F: Fn(Post::Out) -> U + Send + Sync + 'static,
        U: 'static,
    {
        self.then(Map::new(f))
    }

    /// Keeps the records for which `predicate` holds.
    pub fn filter<F>(self, predicate: F) -> Stream<S, Pre, K, Then<Post, Filter<F>>>
    where
        F: Fn(&Post::Out) -> bool + Send + Sync + 'static,
    {
        self.then(Filter::new(predicate))
    }

    /// Transforms each record into any number of records.
    pub fn flat_map<I, F>(self, f: F) -> Stream<S, Pre, K, Then<Post, FlatMap<F, I>>>
    where
        F: Fn(Post::Out) -> I + Send + Sync + 'static,
        I: IntoIterator + 'static,
    {
        self.then(FlatMap::new(f))
    }

    /// Writes the stream to `sink`, completing the pipeline.
    ///
    /// Every record that crosses a stage boundary (into the key groups,
    /// into the sink, or kept as keyed state) must be a [`Record`]. Those
    /// bounds are checked here, once, so a type that lacks them is one
    /// error on this call.
    #[allow(private_bounds)]
    pub fn sink<Sk>(self, sink: Sk) -> CompletePipeline
    where
        Pre::Out: Record,
        K::State: Record,
        Post::Out: Record,
        Sk: Sink<Post::Out>,
        S: Complete<Pre, Chained<Pre::Out, K, Post, ToSink<Sk>>>,
    {
        let (Head { pipeline, source }, pre, last) = self.ending_in(sink);
        source.complete(pipeline, pre, last)
    }

    /// The head and the operators before `key_by`, and the keyed stage
    /// with the operators after it, ending in `sink`.
    #[allow(clippy::type_complexity)]
    pub(super) fn ending_in<Sk>(
        self,
        sink: Sk,
    ) -> (Head<S>, Pre, Chained<Pre::Out, K, Post, ToSink<Sk>>) {
        let last = Chained {
            input: PhantomData,
            config: self.head.pipeline.config,
            keyed: self.keyed,
            post: self.post,
            down: ToSink(sink),
        };
        (self.head, self.pre, last)
    }

    /// A line's stages with `sink`, before they are hidden.
    #[cfg(test)]
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_stages<Sk>(
        self,
        sink: Sk,
    ) -> crate::stages::Stages<
        S,
        crate::branch::NoBranch,
        Pre,
        Chained<Pre::Out, K, Post, ToSink<Sk>>,
    >
    where
        S: Source,
    {
        let (Head { pipeline, source }, pre, last) = self.ending_in(sink);
        crate::stages::Stages {
            name: pipeline.name,
            config: pipeline.config,
            source,
            branch: crate::branch::NoBranch,
            pre,
            first: std::sync::Arc::new(last),
        }
    }
}

impl<S, Pre, K, Post> Stream<S, Pre, K, Post>
where
    S: Origin,
    Pre: Operator<S::Item>,
    K: KeyedStage<Pre::Out> + Chainable,
    Post: Operator<K::Out>,
{
    /// Partitions the keyed stage's output by a new key, for another keyed
    /// stage (Flink: `keyBy` on the stream a keyed operator returns). Each
    /// record goes from a key group of this stage straight to one of the
    /// next; a window's result carries its window's last millisecond as
    /// its event time, so a second window over it works, and the second
    /// stage's watermark only passes a time once the first has fired
    /// everything up to it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stream_runtime::time::Watermarks;
    /// use stream_runtime::window::{tumbling, Windowed};
    /// use stream_runtime::{CollectSink, InMemorySource, Pipeline};
    ///
    /// // Per 5 s window, the count of each word, then the top 3 words.
    /// let top = Pipeline::named("TopWords")
    ///     .source(InMemorySource::new(vec![("a".to_string(), 0i64), ("b".to_string(), 10)]))
    ///     .event_time(|(_, ts)| *ts, Watermarks::max_delay(Duration::from_secs(1)))
    ///     .key_by(|r| r.0.clone())
    ///     .window(tumbling(Duration::from_secs(5)))
    ///     .aggregate(0u64, |count, _| *count += 1)
    ///     .key_by(|w: &Windowed<String, u64>| w.start)
    ///     .window(tumbling(Duration::from_secs(5)))
    ///     .aggregate(Vec::new(), |top: &mut Vec<(u64, String)>, w| {
    ///         top.push((w.value, w.key));
    ///         top.sort_by(|a, b| b.cmp(a));
    ///         top.truncate(3);
    ///     })
    ///     .sink(CollectSink::new());
    /// # let _ = top;
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn key_by<K2, F>(self, key: F) -> KeyedStream<Upstream<S, Pre, K, Post>, Identity, F, K2>
    where
        F: Fn(&Post::Out) -> K2 + Send + Sync + 'static,
        K2: Key,
        Pre::Out: Record,
        K::State: Record,
        Post::Out: Record,
    {
        let Head { pipeline, source } = self.head;
        let upstream = Upstream {
            source,
            pre: self.pre,
            keyed: self.keyed,
            post: self.post,
        };
        KeyedStream::new(
            Head {
                pipeline,
                source: upstream,
            },
            Identity,
            key,
            crate::keyed::key_encoder::<K2>(),
        )
    }
}

impl<S, Pre, KF, K, In, V, W> Stream<S, Pre, crate::window::Windowing<KF, K, In, V, W>, Identity>
where
    S: Origin,
    Pre: Operator<S::Item, Out = In>,
    crate::window::Windowing<KF, K, In, V, W>: KeyedStage<In>,
{
    /// Makes the window's records that come too late for every window
    /// they belong to part of its output (Flink's `sideOutputLateData`):
    /// each result becomes `To::Main(result)` and each late record
    /// `To::Side(record)`, for [`SideOutput::split`](crate::sink::SideOutput::split)
    /// to write to a sink of their own, exactly-once as the results. They
    /// no longer go to the late-data output. Directly after the window's
    /// `aggregate` or `reduce`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stream_runtime::sink::SideOutput;
    /// use stream_runtime::time::Watermarks;
    /// use stream_runtime::window::tumbling;
    /// use stream_runtime::{CollectSink, Pipeline, Sequence};
    ///
    /// let counted = Pipeline::named("Counted")
    ///     .source(Sequence::new().take(1_000))
    ///     .event_time(|n| *n as i64, Watermarks::max_delay(Duration::ZERO))
    ///     .key_by(|n| **n % 3)
    ///     .window(tumbling(Duration::from_millis(100)))
    ///     .aggregate(0u64, |count, _| *count += 1)
    ///     .side_output_late_data()
    ///     .sink(SideOutput::split(CollectSink::new(), CollectSink::new()));
    /// # let _ = counted;
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn side_output_late_data(
        self,
    ) -> Stream<
        S,
        Pre,
        crate::window::LateToSide<crate::window::Windowing<KF, K, In, V, W>>,
        Identity,
    > {
        Stream {
            head: self.head,
            pre: self.pre,
            keyed: crate::window::LateToSide(self.keyed),
            post: Identity,
        }
    }
}

// A source, or a source with a branch (`Tapped`): an unkeyed stream only
// ever reads from one of those, never from keyed stages.
impl<S, Pre, Post> Stream<S, Pre, Unkeyed, Post>
where
    S: Origin,
    Pre: Operator<S::Item>,
    Pre::Out: Send + Sync + 'static,
    Post: Operator<Pre::Out>,
{
    /// Stamps each record with its event time, `timestamp(&record)` in
    /// milliseconds, and generates watermarks with `watermarks` (Flink's
    /// `assignTimestampsAndWatermarks`). Records become [`Timed`](crate::time::Timed), which
    /// dereferences to the record, so `key_by(|r| r.device)` reads on.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stream_runtime::time::Watermarks;
    /// use stream_runtime::window::tumbling;
    /// use stream_runtime::{CollectSink, Pipeline, Sequence};
    ///
    /// let per_second = Pipeline::named("PerSecond")
    ///     .source(Sequence::new().take(10_000))
    ///     .event_time(|n| *n as i64, Watermarks::max_delay(Duration::from_millis(50)))
    ///     .key_by(|n| **n % 10)
    ///     .window(tumbling(Duration::from_secs(1)))
    ///     .aggregate(0u64, |count, _n| *count += 1)
    ///     .sink(CollectSink::new());
    /// # let _ = per_second;
    /// ```
    pub fn event_time<F>(
        mut self,
        timestamp: F,
        watermarks: Watermarks,
    ) -> Stream<S, Pre, Unkeyed, Then<Post, EventTime<F>>>
    where
        F: Fn(&Post::Out) -> Millis + Send + Sync + 'static,
        Post::Out: 'static,
    {
        self.head.pipeline.config.watermarks = Some(watermarks);
        self.then(EventTime::new(timestamp))
    }

    /// Partitions the stream by key. Records of one key are processed by
    /// the same key group, one batch at a time, with their own state.
    pub fn key_by<K, F>(self, key: F) -> KeyedStream<S, Then<Pre, Post>, F, K>
    where
        F: Fn(&Post::Out) -> K + Send + Sync + 'static,
        K: Key,
    {
        KeyedStream::new(
            self.head,
            Then::new(self.pre, self.post),
            key,
            crate::keyed::key_encoder::<K>(),
        )
    }
}
