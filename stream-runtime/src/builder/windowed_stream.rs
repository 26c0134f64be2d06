use super::{Head, KeyedOutput, Stream};
use crate::keyed::KeyEncoder;
use crate::operator::Operator;
use crate::record::Aggregate;
use crate::source::Source;
use crate::window::{AggregateWith, ReduceWith, WindowSpec, WindowTime, Windowing};

/// A keyed stream cut into windows, awaiting the function that folds each
/// window (Flink's `WindowedStream`).
pub struct WindowedStream<S, Pre, KF, K, D> {
    head: Head<S>,
    pre: Pre,
    key_fn: KF,
    encode: KeyEncoder<K>,
    spec: WindowSpec<D>,
}

impl<S, Pre, KF, K, D> WindowedStream<S, Pre, KF, K, D> {
    pub(crate) fn new(
        head: Head<S>,
        pre: Pre,
        key_fn: KF,
        encode: KeyEncoder<K>,
        spec: WindowSpec<D>,
    ) -> Self {
        Self {
            head,
            pre,
            key_fn,
            encode,
            spec,
        }
    }
}

/// The windowed value of a window over `Pre`'s records in domain `D`.
type Value<S, Pre, D> = <D as WindowTime<<Pre as Operator<<S as Source>::Item>>::Out>>::Value;

impl<S, Pre, KF, K, D> WindowedStream<S, Pre, KF, K, D>
where
    S: Source,
    Pre: Operator<S::Item>,
    KF: Fn(&Pre::Out) -> K + Send + Sync + 'static,
    K: Clone + Send + Sync + 'static,
    D: WindowTime<Pre::Out>,
{
    /// Folds each key's window into an accumulator that starts as a copy of
    /// `init` (Flink's `aggregate` with an `AggregateFunction`); emits one
    /// [`Windowed`](crate::window::Windowed) per key and window.
    #[allow(clippy::type_complexity)]
    pub fn aggregate<A, F>(
        self,
        init: A,
        add: F,
    ) -> KeyedOutput<S, Pre, Windowing<KF, K, D, AggregateWith<A, F>>>
    where
        A: Aggregate + Send + Sync + 'static,
        F: Fn(&mut A, Value<S, Pre, D>) + Send + Sync + 'static,
    {
        self.fold(AggregateWith::new(init, add))
    }

    /// Folds each key's window with `f`, starting from its first record
    /// (Flink's `WindowedStream.reduce`).
    #[allow(clippy::type_complexity)]
    pub fn reduce<F>(self, f: F) -> KeyedOutput<S, Pre, Windowing<KF, K, D, ReduceWith<F>>>
    where
        F: Fn(Value<S, Pre, D>, Value<S, Pre, D>) -> Value<S, Pre, D> + Send + Sync + 'static,
        Value<S, Pre, D>: Aggregate,
    {
        self.fold(ReduceWith::new(f))
    }

    fn fold<W>(self, agg: W) -> KeyedOutput<S, Pre, Windowing<KF, K, D, W>> {
        let windowing = Windowing::new(self.key_fn, self.encode, self.spec, agg);
        Stream::keyed(self.head, self.pre, windowing)
    }
}
