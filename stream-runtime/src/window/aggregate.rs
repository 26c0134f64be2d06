//! How a window folds its records: the `WindowFn` trait, with
//! `AggregateWith` (`aggregate(init, add)`) and `ReduceWith` (`reduce(f)`).

/// How a window folds its records: `aggregate(init, add)` or `reduce(f)`
/// (Flink's `AggregateFunction` and `ReduceFunction`). The DSL and the
/// typed API build one from their closures ([`AggregateWith`],
/// [`ReduceWith`]); a fold of one's own, as below, is how to test one
/// outside a pipeline.
///
/// ```
/// use stream_runtime::window::WindowFn;
///
/// /// The least and the greatest reading of a window.
/// struct Range;
///
/// impl WindowFn<f64> for Range {
///     type Acc = (f64, f64);
///
///     fn add(&self, acc: Option<(f64, f64)>, value: f64) -> (f64, f64) {
///         match acc {
///             None => (value, value),
///             Some((low, high)) => (low.min(value), high.max(value)),
///         }
///     }
/// }
///
/// let first = Range.add(None, 20.5);
/// assert_eq!(Range.add(Some(first), 18.0), (18.0, 20.5));
/// ```
pub trait WindowFn<V>: Send + Sync + 'static {
    /// What a window keeps per key, and emits.
    type Acc;
    /// Folds `value` into the accumulator (`None` for a key's first record
    /// in the window).
    fn add(&self, acc: Option<Self::Acc>, value: V) -> Self::Acc;
}

/// `aggregate(init, add)`: each key's window starts from a copy of `init`
/// and `add` folds each record in.
///
/// ```
/// use stream_runtime::window::{AggregateWith, WindowFn};
///
/// let count = AggregateWith::new(0u64, |n: &mut u64, _word: &str| *n += 1);
/// let one = count.add(None, "to");
/// assert_eq!(count.add(Some(one), "be"), 2);
/// ```
pub struct AggregateWith<A, F> {
    init: A,
    add: F,
}

impl<A: Clone, F> AggregateWith<A, F> {
    /// Starts each window from `init` and folds records in with `add`.
    pub fn new(init: A, add: F) -> Self {
        Self { init, add }
    }
}

impl<V, A, F> WindowFn<V> for AggregateWith<A, F>
where
    A: Clone + Send + Sync + 'static,
    F: Fn(&mut A, V) + Send + Sync + 'static,
{
    type Acc = A;

    fn add(&self, acc: Option<A>, value: V) -> A {
        let mut acc = acc.unwrap_or_else(|| self.init.clone());
        (self.add)(&mut acc, value);
        acc
    }
}

/// `reduce(f)` on a window: the first record is the accumulator, and `f`
/// folds each next one in.
///
/// ```
/// use stream_runtime::window::{ReduceWith, WindowFn};
///
/// let max = ReduceWith::new(|a: u32, b: u32| a.max(b));
/// assert_eq!(max.add(Some(max.add(None, 3)), 9), 9);
/// ```
pub struct ReduceWith<F> {
    f: F,
}

impl<F> ReduceWith<F> {
    /// Folds with `f`.
    pub fn new(f: F) -> Self {
        Self { f }
    }
}

impl<V, F> WindowFn<V> for ReduceWith<F>
where
    F: Fn(V, V) -> V + Send + Sync + 'static,
{
    type Acc = V;

    fn add(&self, acc: Option<V>, value: V) -> V {
        match acc {
            None => value,
            Some(acc) => (self.f)(acc, value),
        }
    }
}
