use std::marker::PhantomData;

use super::Stream;
use crate::config::PipelineConfig;
use crate::keyed::{Keyed, Process, ProcessContext, Reduce};
use crate::operator::{Identity, Operator};
use crate::source::Source;
use crate::Record;

/// The stream a keyed operator `Op` produces.
pub type KeyedOutput<S, Pre, Op> = Stream<S, Pre, Op, Identity>;

/// A stream partitioned by key, awaiting its stateful operator.
///
/// As in Flink, a keyed stream offers `reduce` and `process`; their output
/// is an ordinary stream again.
pub struct KeyedStream<S, Pre, KF, Key> {
    name: String,
    config: PipelineConfig,
    source: S,
    pre: Pre,
    key_fn: KF,
    key: PhantomData<fn() -> Key>,
}

impl<S, Pre, KF, Key> KeyedStream<S, Pre, KF, Key> {
    pub(crate) fn new(
        name: String,
        config: PipelineConfig,
        source: S,
        pre: Pre,
        key_fn: KF,
    ) -> Self {
        Self {
            name,
            config,
            source,
            pre,
            key_fn,
            key: PhantomData,
        }
    }
}

impl<S, Pre, KF, Key> KeyedStream<S, Pre, KF, Key>
where
    S: Source,
    Pre: Operator<S::Item>,
    Pre::Out: Record,
    KF: Fn(&Pre::Out) -> Key + Send + Sync + 'static,
{
    /// Folds each key's records with `f` and emits the running aggregate
    /// after every record (Flink's `KeyedStream::reduce`).
    pub fn reduce<F>(self, f: F) -> KeyedOutput<S, Pre, Keyed<KF, Reduce<F>, Key>>
    where
        F: Fn(Pre::Out, Pre::Out) -> Pre::Out + Send + Sync + 'static,
        Pre::Out: Clone,
    {
        Stream::keyed(
            self.name,
            self.config,
            self.source,
            self.pre,
            Keyed::new(self.key_fn, Reduce::new(f)),
        )
    }

    /// Runs a keyed process function with named state per key and an output
    /// collector (Flink's `KeyedProcessFunction`).
    pub fn process<Out, F>(self, f: F) -> KeyedOutput<S, Pre, Keyed<KF, Process<F, Out>, Key>>
    where
        F: for<'a> Fn(Pre::Out, &mut ProcessContext<'a, Key, Out>) + Send + Sync + 'static,
        Out: 'static,
    {
        Stream::keyed(
            self.name,
            self.config,
            self.source,
            self.pre,
            Keyed::new(self.key_fn, Process::new(f)),
        )
    }
}
