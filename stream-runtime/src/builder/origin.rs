//! Where a stream's records come from: a [`Source`], or the keyed stages
//! before a `key_by` that follows another keyed stage ([`Upstream`]).

use std::marker::PhantomData;
use std::sync::Arc;

use super::Pipeline;
use crate::branch::NoBranch;
use crate::complete::CompletePipeline;
use crate::keyed::KeyedStage;
use crate::operator::{Operator, Then};
use crate::record::Record;
use crate::source::Source;
use crate::stages::{Chained, Level, Next, Stages};

/// What a stream reads from: a [`Source`], or an [`Upstream`] of keyed
/// stages.
pub trait Origin {
    /// The records the stream's first operator receives.
    type Item;
}

impl<S: Source> Origin for S {
    type Item = S::Item;
}

/// A source with its operators and keyed stages, before a `key_by` that
/// starts another keyed stage (Flink: a second `keyBy` on a stream that a
/// keyed operator produced). The stream after that `key_by` reads the
/// keyed stage's output; each record goes from a key group of this stage
/// straight to one of the next, never back through the token.
pub struct Upstream<S, Pre, K, Post> {
    pub(crate) source: S,
    pub(crate) pre: Pre,
    pub(crate) keyed: K,
    pub(crate) post: Post,
}

impl<S, Pre, K, Post> Origin for Upstream<S, Pre, K, Post>
where
    S: Origin,
    Pre: Operator<S::Item>,
    K: KeyedStage<Pre::Out>,
    Post: Operator<K::Out>,
{
    type Item = Post::Out;
}

/// Completes a pipeline whose origin is `Self`, given the operators `Pre`
/// after it and the keyed stages `L` that follow.
#[doc(hidden)]
#[allow(private_bounds)]
pub trait Complete<Pre, L>: Origin {
    #[doc(hidden)]
    fn complete(self, pipeline: Pipeline, pre: Pre, level: L) -> CompletePipeline;
}

#[allow(private_bounds)]
impl<S, Pre, L> Complete<Pre, L> for S
where
    S: Source,
    Pre: Operator<S::Item>,
    Pre::Out: Record,
    L: Level<Mid = Pre::Out>,
{
    fn complete(self, pipeline: Pipeline, pre: Pre, level: L) -> CompletePipeline {
        completed(pipeline, self, NoBranch, pre, level)
    }
}

/// The pipeline from `source` through `branch` and `pre` to `level`,
/// its types checked and hidden.
pub(super) fn completed<S, B, Pre, L>(
    pipeline: Pipeline,
    source: S,
    branch: B,
    pre: Pre,
    level: L,
) -> CompletePipeline
where
    S: Source,
    B: crate::branch::Branching<S::Item>,
    Pre: Operator<B::Out>,
    Pre::Out: Record,
    L: Level<Mid = Pre::Out>,
{
    CompletePipeline::new(Stages {
        name: pipeline.name,
        config: pipeline.config,
        source,
        branch,
        pre,
        first: Arc::new(level),
    })
}

/// What the first operators give a keyed stage after origin `S`.
type Into<S, Pre> = <Pre as Operator<<S as Origin>::Item>>::Out;
/// What keyed stage `K` emits after origin `S` and operators `Pre`.
type Emits<S, Pre, K> = <K as KeyedStage<Into<S, Pre>>>::Out;
/// What operators `Post` pass on after it.
type PassesOn<S, Pre, K, Post> = <Post as Operator<Emits<S, Pre, K>>>::Out;

#[allow(private_bounds)]
impl<S, Pre0, K0, Post0, Pre, L> Complete<Pre, L> for Upstream<S, Pre0, K0, Post0>
where
    S: Origin,
    Pre0: Operator<S::Item>,
    Into<S, Pre0>: Record,
    K0: KeyedStage<Into<S, Pre0>>,
    K0::State: Record,
    Post0: Operator<Emits<S, Pre0, K0>>,
    Pre: Operator<PassesOn<S, Pre0, K0, Post0>>,
    Pre::Out: Record,
    L: Level<Mid = Pre::Out>,
    S: Complete<Pre0, Chained<Into<S, Pre0>, K0, Then<Post0, Pre>, Next<L>>>,
{
    fn complete(self, pipeline: Pipeline, pre: Pre, level: L) -> CompletePipeline {
        let before = Chained {
            input: PhantomData,
            config: pipeline.config,
            keyed: self.keyed,
            post: Then::new(self.post, pre),
            down: Next(Arc::new(level)),
        };
        self.source.complete(pipeline, self.pre, before)
    }
}
