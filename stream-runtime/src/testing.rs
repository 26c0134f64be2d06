//! Helpers for the crate's own unit tests.

use crate::builder::Stream;
use crate::keyed::KeyedStage;
use crate::operator::Operator;
use crate::sink::Sink;
use crate::source::Source;
use crate::stages::Stages;

/// The stages of `stream` with `sink`, as the handlers see them (what
/// `sink()` builds and then hides).
pub(crate) fn stages<S, Pre, K, Post, Sk>(
    stream: Stream<S, Pre, K, Post>,
    sink: Sk,
) -> Stages<S, Pre, K, Post, Sk>
where
    S: Source,
    Pre: Operator<S::Item>,
    K: KeyedStage<Pre::Out>,
    Post: Operator<K::Out>,
    Sk: Sink<Post::Out>,
{
    stream.into_stages(sink)
}
