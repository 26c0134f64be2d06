//! `WindowedStream`: a keyed stream after `window`, awaiting the
//! `aggregate` or `reduce` that folds each key's window.

use super::origin::Origin;
use super::{Head, KeyedOutput, Stream};
use crate::keyed::KeyEncoder;
use crate::operator::Operator;
use crate::record::Aggregate;
use crate::window::{AggregateWith, ReduceWith, Stamp, WindowSpec, Windowing};

/// A keyed stream cut into windows, awaiting the function that folds each
/// window (Flink's `WindowedStream`). `M` is the keyed record, `V` what
/// each window folds (the record without its timestamp).
pub struct WindowedStream<S, Pre, KF, K, M, V> {
    head: Head<S>,
    pre: Pre,
    key_fn: KF,
    encode: KeyEncoder<K>,
    spec: WindowSpec,
    stamp: Stamp<M, V>,
}

impl<S, Pre, KF, K, M, V> WindowedStream<S, Pre, KF, K, M, V> {
    pub(crate) fn new<D>(
        head: Head<S>,
        pre: Pre,
        key_fn: KF,
        encode: KeyEncoder<K>,
        spec: WindowSpec<D>,
        stamp: Stamp<M, V>,
    ) -> Self {
        Self {
            head,
            pre,
            key_fn,
            encode,
            spec: spec.shape(),
            stamp,
        }
    }
}

impl<S, Pre, KF, K, V> WindowedStream<S, Pre, KF, K, Pre::Out, V>
where
    S: Origin,
    Pre: Operator<S::Item>,
    KF: Fn(&Pre::Out) -> K + Send + Sync + 'static,
    K: Clone + Send + Sync + 'static,
{
    /// Folds each key's window into an accumulator that starts as a copy of
    /// `init` (Flink's `aggregate` with an `AggregateFunction`); emits one
    /// [`Windowed`](crate::window::Windowed) per key and window.
    #[allow(clippy::type_complexity)]
    pub fn aggregate<A, F>(
        self,
        init: A,
        add: F,
    ) -> KeyedOutput<S, Pre, Windowing<KF, K, Pre::Out, V, AggregateWith<A, F>>>
    where
        A: Aggregate + Send + Sync + 'static,
        F: Fn(&mut A, V) + Send + Sync + 'static,
    {
        self.fold(AggregateWith::new(init, add))
    }

    /// Folds each key's window with `f`, starting from its first record
    /// (Flink's `WindowedStream.reduce`).
    #[allow(clippy::type_complexity)]
    pub fn reduce<F>(
        self,
        f: F,
    ) -> KeyedOutput<S, Pre, Windowing<KF, K, Pre::Out, V, ReduceWith<F>>>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
        V: Aggregate,
    {
        self.fold(ReduceWith::new(f))
    }

    #[allow(clippy::type_complexity)]
    fn fold<W>(self, agg: W) -> KeyedOutput<S, Pre, Windowing<KF, K, Pre::Out, V, W>> {
        let windowing = Windowing::new(self.key_fn, self.encode, self.spec, self.stamp, agg);
        Stream::keyed(self.head, self.pre, windowing)
    }
}
