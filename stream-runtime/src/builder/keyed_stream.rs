//! `KeyedStream`: the typed API after `key_by`, with its keyed operators
//! (`reduce`, `reduce_emitting`, `process`, `process_with_timers`,
//! `enrich`, `enrich_with`, `interval_join`) and `window`.

use super::origin::Origin;
use super::{Head, Stream, WindowedStream};

use crate::keyed::{
    interval_join, Between, Emit, Enriching, JoinRecord, KeyEncoder, KeySelector, Keyed, NoTimers,
    Process, ProcessContext, Reduce, Timer,
};
use crate::lookup::{Enrich, Lookup};
use crate::operator::{Identity, Operator};
use crate::record::Aggregate;
use crate::window::{Stamp, WindowSpec, WindowTime};

/// The stream a keyed operator `Op` produces.
pub type KeyedOutput<S, Pre, Op> = Stream<S, Pre, Op, Identity>;

/// A stream partitioned by key, awaiting its stateful operator.
///
/// As in Flink, a keyed stream offers `reduce` and `process`; their output
/// is an ordinary stream again.
pub struct KeyedStream<S, Pre, KF, K> {
    head: Head<S>,
    pre: Pre,
    key_fn: KF,
    encode: KeyEncoder<K>,
}

impl<S, Pre, KF, K> KeyedStream<S, Pre, KF, K> {
    pub(crate) fn new(head: Head<S>, pre: Pre, key_fn: KF, encode: KeyEncoder<K>) -> Self {
        Self {
            head,
            pre,
            key_fn,
            encode,
        }
    }
}

impl<S, Pre, KF, K> KeyedStream<S, Pre, KF, K>
where
    S: Origin,
    Pre: Operator<S::Item>,
    KF: Fn(&Pre::Out) -> K + Send + Sync + 'static,
    K: 'static,
{
    /// Folds each key's records with `f` and emits the running aggregate
    /// after every record (Flink's `KeyedStream::reduce`).
    // The type spells out the stage chain on purpose: it is what makes the
    // pipeline monomorphized.
    #[allow(clippy::type_complexity)]
    pub fn reduce<F>(self, f: F) -> KeyedOutput<S, Pre, Keyed<KF, Reduce<F, Pre::Out>, K>>
    where
        F: Fn(Pre::Out, Pre::Out) -> Pre::Out + Send + Sync + 'static,
        Pre::Out: Aggregate,
    {
        self.reduce_emitting(f, Emit::EveryUpdate)
    }

    /// Folds each key's records with `f`, emitting as `emit` says:
    /// [`Emit::LatestPerBatch`] emits each key's aggregate once per batch
    /// (Kafka Streams' record cache, Flink SQL's mini-batch), not after
    /// every record; `reduce(f, emit = latest)` in `pipeline!`.
    ///
    /// ```
    /// use stream_runtime::keyed::Emit;
    /// use stream_runtime::{CollectSink, Pipeline, Sequence};
    ///
    /// let counts = Pipeline::named("Counts")
    ///     .source(Sequence::new().take(1_000))
    ///     .map(|n| (n % 10, 1u64))
    ///     .key_by(|(key, _)| *key)
    ///     .reduce_emitting(|(key, a), (_, b)| (key, a + b), Emit::LatestPerBatch)
    ///     .sink(CollectSink::new());
    /// # let _ = counts;
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn reduce_emitting<F>(
        self,
        f: F,
        emit: Emit,
    ) -> KeyedOutput<S, Pre, Keyed<KF, Reduce<F, Pre::Out>, K>>
    where
        F: Fn(Pre::Out, Pre::Out) -> Pre::Out + Send + Sync + 'static,
        Pre::Out: Aggregate,
    {
        Stream::keyed(
            self.head,
            self.pre,
            Keyed::new(self.key_fn, self.encode, Reduce::emitting(f, emit)),
        )
    }

    /// Calls, per record, another Restate service's handler or an HTTP
    /// endpoint (what `lookup` gives for the record), and emits the record
    /// with the answer, `(record, answer)` (Flink's
    /// `AsyncDataStream.orderedWait`). The call is made by the record's
    /// key group and its answer is journaled, so a replay never calls
    /// again; a call that fails after its attempts sends its record to the
    /// dead-letter output with why. With [`Enrich`]'s defaults; see
    /// [`enrich_with`](Self::enrich_with) and [`crate::lookup`].
    ///
    /// ```
    /// use stream_runtime::lookup::Lookup;
    /// use stream_runtime::{CollectSink, Pipeline, Sequence};
    ///
    /// // Each number with its square, from a service `Math/square`.
    /// let squares = Pipeline::named("Squares")
    ///     .source(Sequence::new().take(100))
    ///     .key_by(|n| *n % 10)
    ///     .enrich(|n| Lookup::<u64>::service("Math", "square", n))
    ///     .sink(CollectSink::new());
    /// # let _ = squares;
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn enrich<Res, F>(self, lookup: F) -> KeyedOutput<S, Pre, Enriching<KF, K, F, Res>>
    where
        F: Fn(&Pre::Out) -> Lookup<Res> + Send + Sync + 'static,
        Res: serde::de::DeserializeOwned + 'static,
    {
        self.enrich_with(Enrich::new(), lookup)
    }

    /// [`enrich`](Self::enrich), calling as `options` say: calls in
    /// flight per key group, order, timeout, attempts, and a cache of each
    /// key's answer.
    #[allow(clippy::type_complexity)]
    pub fn enrich_with<Res, F>(
        self,
        options: Enrich,
        lookup: F,
    ) -> KeyedOutput<S, Pre, Enriching<KF, K, F, Res>>
    where
        F: Fn(&Pre::Out) -> Lookup<Res> + Send + Sync + 'static,
        Res: serde::de::DeserializeOwned + 'static,
    {
        let by = KeySelector::new(self.key_fn, self.encode);
        Stream::keyed(self.head, self.pre, Enriching::new(by, lookup, options))
    }

    /// Groups each key's records into windows (Flink's `KeyedStream.window`);
    /// `aggregate` or `reduce` then folds each window.
    ///
    /// The window's domain is checked here, once: an event-time window over
    /// records without timestamps is one error, on this call.
    #[allow(clippy::type_complexity)]
    pub fn window<D>(
        self,
        spec: WindowSpec<D>,
    ) -> WindowedStream<S, Pre, KF, K, Pre::Out, <D as WindowTime<Pre::Out>>::Value>
    where
        D: WindowTime<Pre::Out>,
    {
        let stamp = Stamp::of::<D>();
        WindowedStream::new(self.head, self.pre, self.key_fn, self.encode, spec, stamp)
    }

    /// Runs a keyed process function with named state per key and an output
    /// collector (Flink's `KeyedProcessFunction`).
    #[allow(clippy::type_complexity)]
    pub fn process<Out, F>(
        self,
        f: F,
    ) -> KeyedOutput<S, Pre, Keyed<KF, Process<F, NoTimers, K, Out>, K>>
    where
        F: for<'a> Fn(Pre::Out, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
        Out: 'static,
    {
        Stream::keyed(
            self.head,
            self.pre,
            Keyed::new(self.key_fn, self.encode, Process::new(f)),
        )
    }

    /// Runs a keyed process function whose timers call `on_timer` (Flink's
    /// `KeyedProcessFunction.onTimer`). `on_timer` sees the key (decoded
    /// from its JSON, so the key must also be `Deserialize`), its state,
    /// and the collector.
    #[allow(clippy::type_complexity)]
    pub fn process_with_timers<Out, F, G>(
        self,
        f: F,
        on_timer: G,
    ) -> KeyedOutput<S, Pre, Keyed<KF, Process<F, G, K, Out>, K>>
    where
        F: for<'a> Fn(Pre::Out, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
        G: for<'a> Fn(Timer, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
        K: serde::de::DeserializeOwned,
        Out: 'static,
    {
        let process = Process::with_timers(f, on_timer);
        Stream::keyed(
            self.head,
            self.pre,
            Keyed::new(self.key_fn, self.encode, process),
        )
    }
}

impl<S, Pre, KF, K> KeyedStream<S, Pre, KF, K>
where
    S: Origin,
    Pre: Operator<S::Item>,
    Pre::Out: JoinRecord,
    KF: Fn(&Pre::Out) -> K + Send + Sync + 'static,
    K: serde::de::DeserializeOwned + 'static,
{
    /// Joins the two inputs of each key by event time (Flink's
    /// `intervalJoin(..).between(lower, upper)`): a left record at `t` and
    /// a right one at `t + lower ..= t + upper` give `join(&left,
    /// &right)`, once, whichever came first. The inputs are two sources
    /// `connect`ed and stamped by one `event_time`, or two streams
    /// [`join`](crate::Stream::join)ed after their own stages, whose
    /// records each carry their time (see [`JoinRecord`]). Each side waits in the key's
    /// state until the watermark passes the last time a partner could
    /// have, then leaves it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stream_runtime::keyed::between;
    /// use stream_runtime::time::Watermarks;
    /// use stream_runtime::{CollectSink, InMemorySource, Pipeline};
    ///
    /// // Orders of (id, ms) and their payments of (id, ms) within 5 s after.
    /// let paid = Pipeline::named("Paid")
    ///     .source(InMemorySource::new(vec![(7u32, 1_000i64)]))
    ///     .connect(InMemorySource::new(vec![(7u32, 3_000i64)]))
    ///     .event_time(|e| e.either(|o| o.1, |p| p.1), Watermarks::max_delay(Duration::from_secs(1)))
    ///     .key_by(|e| e.either(|o| o.0, |p| p.0))
    ///     .interval_join(between(0, 5_000), |order, payment| (order.0, payment.1 - order.1))
    ///     .sink(CollectSink::new());
    /// # let _ = paid;
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn interval_join<Out, F>(
        self,
        bounds: Between,
        join: F,
    ) -> KeyedOutput<
        S,
        Pre,
        Keyed<
            KF,
            Process<
                impl for<'a> Fn(Pre::Out, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
                impl for<'a> Fn(Timer, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
                K,
                Out,
            >,
            K,
        >,
    >
    where
        F: Fn(&<Pre::Out as JoinRecord>::Left, &<Pre::Out as JoinRecord>::Right) -> Out
            + Send
            + Sync
            + 'static,
        Out: 'static,
    {
        let (on_record, on_timer) = interval_join(bounds, join);
        let process = Process::with_timers(on_record, on_timer);
        Stream::keyed(
            self.head,
            self.pre,
            Keyed::new(self.key_fn, self.encode, process),
        )
    }
}
