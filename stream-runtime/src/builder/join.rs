//! `join`: two streams, each read from its own source and each with its
//! own stages, become one stream of [`Either`](crate::source::Either) for the join after them.

use super::{Head, Pipeline, Stream};
use crate::keyed::{Keyed, Paired, Unkeyed};
use crate::operator::{EachSide, Identity, Operator, Then};
use crate::source::{Connect, Source};
use crate::time::Watermarks;
use crate::window::Windowing;

/// A stream that can be one input of a [`join`](Stream::join): a source
/// with stateless stages, and at most one keyed stage (`reduce`,
/// `process` or a window) with stateless stages after it.
#[diagnostic::on_unimplemented(
    message = "this stream cannot be an input of a join yet",
    label = "a join's input ends here",
    note = "a join's inputs each read a source of their own, then may have one `reduce`, `process` or window (no `enrich`, no second `key_by`, no late data to a side output)"
)]
pub trait JoinInput {
    /// The source it reads.
    type Source: Source;
    /// Its stateless stages before its keyed stage.
    type Pre: Operator<<Self::Source as Source>::Item>;
    /// Its keyed stage ([`Unkeyed`] for none).
    type Stage;
    /// Its stateless stages after the keyed stage.
    type Post;

    #[doc(hidden)]
    fn into_side(self) -> Side<Self::Source, Self::Pre, Self::Stage, Self::Post>;
}

/// One input of a join, taken apart.
#[doc(hidden)]
pub struct Side<S, Pre, K, Post> {
    head: Head<S>,
    pre: Pre,
    keyed: K,
    post: Post,
}

/// A stream with no keyed stage: all its stages run before the join's
/// key groups, where `event_time` stamps its records for the watermark.
impl<S, Pre, Post> JoinInput for Stream<S, Pre, Unkeyed, Post>
where
    S: Source,
    Pre: Operator<S::Item>,
    Post: Operator<Pre::Out>,
{
    type Source = S;
    type Pre = Then<Pre, Post>;
    type Stage = Unkeyed;
    type Post = Identity;

    fn into_side(self) -> Side<S, Self::Pre, Unkeyed, Identity> {
        let (head, pre, post) = self.into_parts();
        Side {
            head,
            pre: Then::new(pre, post),
            keyed: Unkeyed,
            post: Identity,
        }
    }
}

/// Generates [`JoinInput`] for streams that end in keyed stage `$stage`.
macro_rules! keyed_join_input {
    ($($param:ident),* => $stage:ty) => {
        impl<S, Pre, Post, $($param),*> JoinInput for Stream<S, Pre, $stage, Post>
        where
            S: Source,
            Pre: Operator<S::Item>,
        {
            type Source = S;
            type Pre = Pre;
            type Stage = $stage;
            type Post = Post;

            fn into_side(self) -> Side<S, Pre, $stage, Post> {
                let (head, pre, keyed, post) = self.into_all();
                Side { head, pre, keyed, post }
            }
        }
    };
}

keyed_join_input!(KF, Op, K => Keyed<KF, Op, K>);
keyed_join_input!(KF, K, In, V, W => Windowing<KF, K, In, V, W>);

/// The stream [`join`](Stream::join) gives: both sources read as one, each
/// side's stateless stages on its own records, both keyed stages as one
/// stage over [`Either`](crate::source::Either), and each side's stages
/// after its keyed stage on what it gives.
pub type Joined<A, B> = Stream<
    Connect<<A as JoinInput>::Source, <B as JoinInput>::Source>,
    EachSide<<A as JoinInput>::Pre, <B as JoinInput>::Pre>,
    Paired<<A as JoinInput>::Stage, <B as JoinInput>::Stage>,
    EachSide<<A as JoinInput>::Post, <B as JoinInput>::Post>,
>;

impl<S, Pre, K, Post> Stream<S, Pre, K, Post> {
    /// Joins this stream with `other`, each with its own source and its
    /// own stages (Flink: `a.connect(b)` or `a.join(b)` after operators on
    /// each): records of both go on as one stream of [`Either`](crate::source::Either), this
    /// one's as `Either::Left`, `other`'s as `Either::Right`, for a
    /// `key_by` on the key both share and the joining stage after it
    /// (`interval_join`, a window over both, or `process`).
    ///
    /// Each input keeps its own key groups' state and timers. The
    /// pipeline is this stream's (its name and settings; `other`'s are not
    /// used). The watermark is the least over both inputs' splits; an
    /// input without `event_time` holds it back not at all. When both
    /// have `event_time`, the larger `max_delay` and the longer idle
    /// timeout hold for both (see the guide's "Joins after stages").
    ///
    /// ```
    /// use std::time::Duration;
    /// use stream_runtime::source::Either;
    /// use stream_runtime::time::Watermarks;
    /// use stream_runtime::window::{tumbling, Windowed};
    /// use stream_runtime::{CollectSink, InMemorySource, Pipeline};
    ///
    /// // Clicks of (user, ms) counted per user and second, joined with
    /// // each user's latest name.
    /// let clicks = Pipeline::named("ClicksWithNames")
    ///     .source(InMemorySource::new(vec![(7u32, 1_500i64)]))
    ///     .event_time(|c| c.1, Watermarks::max_delay(Duration::from_secs(1)))
    ///     .key_by(|c| c.0)
    ///     .window(tumbling(Duration::from_secs(1)))
    ///     .aggregate(0u64, |n, _| *n += 1);
    /// let names = Pipeline::named("Names")
    ///     .source(InMemorySource::new(vec![(7u32, "ada".to_string())]))
    ///     .key_by(|p| p.0)
    ///     .reduce(|_, latest| latest);
    /// let joined = clicks
    ///     .join(names)
    ///     .key_by(|e| e.either(|w: &Windowed<u32, u64>| w.key, |p| p.0))
    ///     .process(|e, ctx| match e {
    ///         Either::Right((_, name)) => ctx.value("name").set(name),
    ///         Either::Left(count) => {
    ///             let name: Option<String> = ctx.value("name").get();
    ///             ctx.collect((count.start, count.value, name));
    ///         }
    ///     })
    ///     .sink(CollectSink::new());
    /// # let _ = joined;
    /// ```
    pub fn join<B>(self, other: B) -> Joined<Self, B>
    where
        Self: JoinInput,
        B: JoinInput,
    {
        self.join_with(other)
    }
}

/// The join itself, for [`Stream::join`] and the macro's [`join`].
trait JoinWith: JoinInput + Sized {
    fn join_with<B: JoinInput>(self, other: B) -> Joined<Self, B> {
        let left = self.into_side();
        let right = other.into_side();
        let Head { pipeline, source } = left.head;
        let Head {
            pipeline: other_pipeline,
            source: other_source,
        } = right.head;
        let pipeline = joined_pipeline(
            pipeline,
            &other_pipeline,
            source.splits(),
            other_source.splits(),
        );
        Stream::from_parts(
            Head {
                pipeline,
                source: crate::source::connect(source, other_source),
            },
            EachSide::new(left.pre, right.pre),
            Paired::new(left.keyed, right.keyed),
            EachSide::new(left.post, right.post),
        )
    }
}

impl<T: JoinInput> JoinWith for T {}

/// The pipeline of a join: the left input's (the right's name and
/// settings are not used), with watermarks made from both inputs'
/// `event_time` (the larger delay and the longer idle timeout, so that
/// no record on time on its own input is late after the join), and the
/// splits of an input without `event_time` holding none back.
fn joined_pipeline(
    mut left: Pipeline,
    right: &Pipeline,
    left_splits: u32,
    right_splits: u32,
) -> Pipeline {
    let config = &mut left.config;
    let (a, b) = (config.watermarks, right.config.watermarks);
    config.watermarks = match (a, b) {
        (Some(a), Some(b)) => Some(Watermarks::wider(a, b)),
        (a, b) => a.or(b),
    };
    config.untimed_splits = match (a, b) {
        (Some(_), None) => Some((left_splits, left_splits + right_splits)),
        (None, Some(_)) => Some((0, left_splits)),
        _ => None,
    };
    left
}

/// `join(a, b)` in `pipeline!`: [`Stream::join`], with each input's bound
/// checked on its own argument, so that an input that cannot be joined is
/// one error on its name, in the words of [`JoinInput`].
#[doc(hidden)]
pub fn join<A: JoinInput, B: JoinInput>(left: A, right: B) -> Joined<A, B> {
    left.join_with(right)
}
