//! Helpers for the crate's own unit tests.

use crate::builder::Stream;
use crate::keyed::KeyedStage;
use crate::operator::Operator;
use crate::sink::Sink;
use crate::source::Source;
use crate::stages::{Chained, Downstream, Level, Stages, ToSink};

/// The stages of a line `stream` with `sink`, as the handlers see them
/// (what `sink()` builds and then hides).
#[allow(clippy::type_complexity)]
pub(crate) fn stages<S, Pre, K, Post, Sk>(
    stream: Stream<S, Pre, K, Post>,
    sink: Sk,
) -> Stages<S, crate::branch::NoBranch, Pre, Chained<Pre::Out, K, Post, ToSink<Sk>>>
where
    S: Source,
    Pre: Operator<S::Item>,
    K: KeyedStage<Pre::Out>,
    Post: Operator<K::Out>,
    Sk: Sink<Post::Out>,
{
    stream.into_stages(sink)
}

/// What answers an enrichment stage's lookups in a [`GroupSim`].
pub(crate) type Answerer = Box<dyn Fn(&crate::lookup::Call) -> crate::lookup::Answered>;

/// The stages of a line with a branch, `stream` with `sink` (what `sink()`
/// builds and then hides).
#[allow(clippy::type_complexity)]
pub(crate) fn branched<S, Before, Op, Sk0, Pre, K, Post, Sk>(
    stream: Stream<crate::builder::Tapped<S, Before, Op, Sk0>, Pre, K, Post>,
    sink: Sk,
) -> Stages<S, crate::branch::Branch<Before, Op, Sk0>, Pre, Chained<Pre::Out, K, Post, ToSink<Sk>>>
where
    S: Source,
    Before: Operator<S::Item>,
    Pre: Operator<Before::Out>,
    K: KeyedStage<Pre::Out>,
    Post: Operator<K::Out>,
    Sk: Sink<Post::Out>,
{
    stream.into_branched_stages(sink)
}

/// One key group driven without a server: its state entries in a map,
/// each call planned, loaded, run and stored as the handler does.
pub(crate) struct GroupSim<D: crate::stages::Dataflow> {
    pub flow: D,
    pub store: std::collections::BTreeMap<String, Vec<u8>>,
    pub timers: crate::keyed::Timers,
    /// Every timer that failed while firing, in order.
    pub failed: Vec<crate::stages::FireFailed>,
    /// What answers an enrichment stage's lookups (none: each fails).
    pub answer: Option<Answerer>,
    /// Whether lookups answer last first (as unordered calls may).
    pub last_answers_first: bool,
    /// Every lookup planned, in order.
    pub planned: Vec<crate::lookup::Planned>,
    /// Every record an enrichment stage dropped, and why.
    pub dropped: Vec<(Option<serde_json::Value>, String)>,
}

impl<D: crate::stages::Dataflow> GroupSim<D> {
    pub(crate) fn new(flow: D) -> Self {
        Self {
            flow,
            store: Default::default(),
            timers: Default::default(),
            failed: Vec::new(),
            answer: None,
            last_answers_first: false,
            planned: Vec::new(),
            dropped: Vec::new(),
        }
    }

    /// One call with `records`, the token's `watermark` and the wall
    /// clock `now`: its output, and its late records.
    pub(crate) fn call(
        &mut self,
        records: Vec<D::Mid>,
        watermark: Option<crate::time::Millis>,
        now: crate::time::Millis,
    ) -> (Vec<D::Out>, Vec<serde_json::Value>) {
        use crate::group_call::GroupCall;
        use crate::keyed::GroupState;
        let timers = std::mem::take(&mut self.timers);
        let level = &**self.flow.first();
        let (mut call, mut names) = GroupCall::new(level, records, now)
            .unwrap_or_else(|f| panic!("the batch: {}", f.error));
        names.extend(call.due(timers, watermark));
        let loaded = names.into_iter().map(|name| {
            let bytes = self.store.get(&name).cloned();
            (name, bytes)
        });
        let mut state = GroupState::loaded(loaded);
        let planned = call
            .lookups(level, &state)
            .unwrap_or_else(|f| panic!("the lookups: {}", f.error));
        self.planned.extend(planned.iter().cloned());
        let mut looked: Vec<_> = planned
            .into_iter()
            .map(|plan| {
                let answer = match &self.answer {
                    Some(answer) => crate::lookup::answer_here(&plan.call, answer),
                    None => Err("no answer".to_owned()),
                };
                (plan.records, answer)
            })
            .collect();
        if self.last_answers_first {
            looked.reverse();
        }
        let Ok((output, timers)) = call.run(level, &mut state, looked) else {
            panic!("the call failed");
        };
        let Ok(out) = level.down().to_sink(output.out) else {
            panic!("a line's keyed stage writes to the sink");
        };
        for (name, bytes) in state.settle().0 {
            match bytes {
                Some(bytes) => self.store.insert(name, bytes),
                None => self.store.remove(&name),
            };
        }
        self.timers = timers;
        self.failed.extend(output.failed);
        self.dropped.extend(output.dropped);
        (out, output.late)
    }
}

/// Runs a future to its end on a fresh current-thread runtime.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(future))
        .unwrap_or_else(|e| panic!("a runtime: {e}"))
}

/// What `source` reads, or a panic with why not.
pub(crate) fn read<S: Source>(source: &S, split: u32, position: u64, max: usize) -> Vec<S::Item> {
    block_on(source.read(split, position, max)).unwrap_or_else(|e| panic!("read: {e}"))
}
