//! A complete pipeline's stages, with every record type fixed, as the
//! Restate handlers run them: a source and the operators before the first
//! `key_by`, then a chain of [`Level`]s, each a keyed stage with the
//! operators after it, the last of which ends in the sink.

use std::future::Future;
use std::io;
use std::sync::Arc;

use crate::branch::Branching;
use crate::config::PipelineConfig;
use crate::graph::{stage_names, Graph, VertexKind};
use crate::guard::{guarded, RecordFailed, StageError};
use crate::keyed::{
    key_group, ByKey, Combiner, Cx, Due, GroupState, KeyedStage, Scope, TimeDomain, Unkeyed,
};
use crate::lookup::{Enrich, Planned};
use crate::operator::{Identity, Operator};
use crate::record::Record;
use crate::sink::{ConsoleSink, Sink, SinkCall};
use crate::source::Source;
use crate::time::{Millis, Stamps};

/// Everything the source-side handlers (tokens, splits, clock, control,
/// sink) need to know about one pipeline, with every record type fixed at
/// compile time.
///
/// Implemented by [`Stages`]; the handlers are generic over this trait and
/// monomorphized per pipeline.
pub(crate) trait Dataflow: Send + Sync + 'static {
    /// What the source reads.
    type Input: Send;
    /// The source.
    type Source: Source<Item = Self::Input>;
    /// What reaches the first keyed stage (after the operators before
    /// `key_by`).
    type Mid: Record;
    /// What reaches the sink.
    type Out: Record;
    /// What reaches the sink of a branch before `key_by` (`()` without
    /// one; see [`crate::branch`]).
    type Side: Record;
    /// The first keyed stage, the one the tokens call.
    type First: Level<Mid = Self::Mid, Final = Self::Out>;

    /// The pipeline's name, from which its service names derive.
    fn name(&self) -> &str;
    /// Its settings.
    fn config(&self) -> &PipelineConfig;
    /// The source: the split stage leases ranges of it and the tokens read
    /// them (see [`Source`]).
    fn source(&self) -> &Self::Source;
    /// Applies the operators before `key_by` to one source record, telling
    /// `stamps` the event time `event_time` gives it; a branch's records
    /// go to `side`.
    fn before_key(
        &self,
        record: Self::Input,
        out: &mut Vec<Self::Mid>,
        side: &mut Vec<Self::Side>,
        stamps: &Stamps,
    );
    /// The first keyed stage.
    fn first(&self) -> &Arc<Self::First>;
    /// The pipeline's graph, as it was written.
    fn graph(&self) -> Graph;

    /// The source's number of splits (at least one).
    fn splits(&self) -> u32 {
        self.source().splits().max(1)
    }
    /// Whether there is a keyed stage.
    fn is_keyed(&self) -> bool {
        self.first().is_keyed()
    }
    /// The keyed stages: 1 for a line, more for a chain, 0 without `key_by`.
    fn levels(&self) -> u32 {
        match self.is_keyed() {
            true => 1 + self.first().down().levels_after(),
            false => 0,
        }
    }
    /// Whether the clock carries what a keyed stage before the last fires
    /// to the next one ([`Level::fires_once_on_event_time`]): output then
    /// waits in the clock's wake-up between the stages, and a bounded
    /// run has ended only once the clock stored its last watermark.
    fn clock_carries(&self) -> bool {
        (0..self.levels()).any(|level| self.carried_from(level))
    }
    /// Whether the clock carries what keyed stage `level` fires to the
    /// next one: the stage fires each window once on event time, and one
    /// comes after it.
    fn carried_from(&self, level: u32) -> bool {
        self.config().watermarks.is_some()
            && level + 1 < self.levels()
            && self.first().visit_at(level, FiresOnce) == Some(true)
    }
    /// The encoded key of a record at the first keyed stage.
    fn encode_key(&self, record: &Self::Mid) -> Result<String, serde_json::Error> {
        self.first().encode_key(record)
    }
    /// With no keyed stage, applies the operators after it to one record; a
    /// keyed pipeline gets the record back as `Err`.
    fn unkeyed(&self, record: Self::Mid, out: &mut Vec<Self::Out>) -> Result<(), Self::Mid> {
        self.first().unkeyed(record, out)
    }
    /// One source record through the operators before `key_by`: its keyed
    /// records, each with its key group and encoded key, its output (with
    /// no keyed stage), and the largest time `event_time` stamped on it. A
    /// user function that panics, or a key that does not encode, fails it.
    #[allow(clippy::type_complexity)]
    fn route(
        &self,
        record: Self::Input,
    ) -> Result<Route<Self::Mid, Self::Out, Self::Side>, StageError> {
        guarded(|| {
            let groups = self.config().key_groups;
            let mut mids = Vec::new();
            let stamps = Stamps::default();
            let mut side = Vec::new();
            self.before_key(record, &mut mids, &mut side, &stamps);
            let mut routed = Route {
                keyed: Vec::new(),
                output: Vec::new(),
                side,
                stamped: None,
            };
            for mid in mids {
                if let Err(mid) = self.unkeyed(mid, &mut routed.output) {
                    let key = self.encode_key(&mid)?;
                    routed.keyed.push((key_group(&key, groups), key, mid));
                }
            }
            routed.stamped = stamps.max();
            Ok(routed)
        })
    }
    /// The sink's number of partitions.
    fn sink_partitions(&self) -> u32 {
        self.first().down().sink_partitions()
    }
    /// `output` of token (or key group) `token`, by the sink partition each
    /// record routes to, in partition order, each in output order.
    fn by_sink_partition(
        &self,
        token: u64,
        output: Vec<Self::Out>,
    ) -> std::collections::BTreeMap<u32, Vec<Self::Out>> {
        by_sink_partition(self.first().down(), token, output)
    }
    /// The sink partitions of a branch before `key_by` (none without
    /// one), after the main sink's.
    fn side_partitions(&self) -> u32;
    /// A branch's records of token `token`, by the branch sink's
    /// partition each goes to, in partition order.
    fn by_side_partition(
        &self,
        token: u64,
        side: Vec<Self::Side>,
    ) -> std::collections::BTreeMap<u32, Vec<Self::Side>>;
    /// Calls a partition of a branch's sink: a batch's write, or where
    /// the next starts after a failed one.
    fn write_side(
        &self,
        partition: u32,
        committed: u64,
        call: SinkCall<'_, Self::Side>,
    ) -> impl Future<Output = io::Result<u64>> + Send;
    /// Calls a sink partition (see [`Sink`]): a batch's write, or where
    /// the next starts after a failed one.
    fn write(
        &self,
        partition: u32,
        committed: u64,
        call: SinkCall<'_, Self::Out>,
    ) -> impl Future<Output = io::Result<u64>> + Send {
        self.first().down().write(partition, committed, call)
    }
}

/// One source record after the operators before `key_by` (see
/// [`Dataflow::route`]).
pub(crate) struct Route<M, O, X> {
    /// Each keyed record with its key group and encoded key.
    pub keyed: Vec<(u32, String, M)>,
    /// The output, with no keyed stage.
    pub output: Vec<O>,
    /// The records of a branch before `key_by`, for its own sink.
    pub side: Vec<X>,
    /// The largest time `event_time` stamped.
    pub stamped: Option<Millis>,
}

/// `output` of token (or key group) `token`, by the sink partition each
/// record routes to, in partition order, each in output order.
pub(crate) fn by_sink_partition<T, D: Downstream<T> + ?Sized>(
    down: &D,
    token: u64,
    output: Vec<D::Final>,
) -> std::collections::BTreeMap<u32, Vec<D::Final>> {
    let mut partitions = std::collections::BTreeMap::<u32, Vec<D::Final>>::new();
    for record in output {
        let partition = down.sink_route(token, &record);
        partitions.entry(partition).or_default().push(record);
    }
    partitions
}

/// One keyed stage of a pipeline, with the operators after it and where
/// its output goes: what a key group's handlers run.
pub(crate) trait Level: Send + Sync + 'static {
    /// What reaches the stage.
    type Mid: Record;
    /// The state kept per key.
    type State: Record;
    /// What the stage, and the operators after it, pass on.
    type Out: Record;
    /// What reaches the sink at the end of the chain.
    type Final: Record;
    /// The sink, or the next keyed stage.
    type Down: Downstream<Self::Out, Final = Self::Final>;

    /// The pipeline's settings.
    fn config(&self) -> &PipelineConfig;
    /// Whether there is a keyed stage here.
    fn is_keyed(&self) -> bool;
    /// The encoded key of a record.
    fn encode_key(&self, record: &Self::Mid) -> Result<String, serde_json::Error>;
    /// The clock the stage's timers follow, if any.
    fn time_domain(&self) -> Option<TimeDomain>;
    /// Whether all the stage emits comes from firing each of its windows
    /// once on event time (see [`KeyedStage::fires_once_on_event_time`]).
    fn fires_once_on_event_time(&self) -> bool;
    /// The combiner that folds a round's records of one key before they
    /// are sent to its group, if the stage has one and the pipeline's
    /// settings allow it.
    fn combiner(&self) -> Option<Combiner<'_, Self::Mid>>;
    /// The state entries a key group's batch needs.
    fn keyed_entries(&self, batch: &ByKey<Self::Mid>, scope: &Scope<'_>) -> Vec<String>;
    /// Whether the stage makes lookups (an enrichment stage): its group
    /// then reads the wall clock, for its cache.
    fn looks_up(&self) -> bool;
    /// The lookups a key group's batch makes before it is applied, with
    /// `state` loaded and the wall clock at `now`.
    fn lookups(
        &self,
        batch: &ByKey<Self::Mid>,
        state: &GroupState,
        now: Millis,
    ) -> Result<Vec<Planned>, RecordFailed>;
    /// How the stage's lookups are made.
    fn lookup_options(&self) -> Enrich;
    /// Applies the keyed stage, and the operators after it, to a key
    /// group's batch.
    fn apply_keyed(
        &self,
        state: &mut GroupState,
        batch: ByKey<Self::Mid>,
        scope: &mut Scope<'_>,
    ) -> Result<GroupOutput<Self::Out>, RecordFailed>;
    /// Fires due timers, and applies the operators after the keyed stage to
    /// what they emit. A timer whose firing fails, or one of whose results
    /// the operators after the stage fail on, is answered in
    /// [`Fired::failed`] and the others fire: one bad result does not
    /// stop its group's timers.
    fn fire(
        &self,
        state: &mut GroupState,
        due: Vec<Due>,
        scope: &mut Scope<'_>,
    ) -> Fired<Self::Out>;
    /// With no keyed stage, applies the operators after it to one record; a
    /// keyed stage (or one whose output goes to another) gets the record
    /// back as `Err`.
    fn unkeyed(&self, record: Self::Mid, out: &mut Vec<Self::Final>) -> Result<(), Self::Mid>;
    /// Where the output goes.
    fn down(&self) -> &Self::Down;
    /// Adds the stage's vertex, and those after it, to `graph`, fed by
    /// vertex `from` (with no keyed stage, the operators after it join
    /// `from`).
    fn describe(&self, graph: &mut Graph, from: usize);
    /// Does `visit` at the keyed stage `below` stages after this one (0:
    /// this one), with its types known; `None` past the last stage.
    fn visit_at<V: AtLevel>(&self, below: u32, visit: V) -> Option<V::Out>;
}

/// Something done at one keyed stage of a chain, whichever it is: see
/// [`Level::visit_at`].
pub(crate) trait AtLevel {
    /// What it gives.
    type Out;
    /// Does it at `level`.
    fn at<L: Level>(self, level: &L) -> Self::Out;
}

/// Whether a keyed stage fires each window once on event time.
struct FiresOnce;

impl AtLevel for FiresOnce {
    type Out = bool;
    fn at<L: Level>(self, level: &L) -> bool {
        level.fires_once_on_event_time()
    }
}

/// Where a keyed stage's output goes: the sink ([`ToSink`]) or the next
/// keyed stage ([`Next`]). The sink's methods reach through the chain to
/// the sink at its end.
pub(crate) trait Downstream<T>: Send + Sync + 'static {
    /// What reaches the sink.
    type Final: Record;
    /// The next keyed stage, if the output goes to one.
    type Next: Level<Mid = T, Final = Self::Final>;

    /// The next keyed stage; `None` for the sink.
    fn next(&self) -> Option<&Arc<Self::Next>>;
    /// The output as the sink takes it, when it goes to the sink.
    fn to_sink(&self, records: Vec<T>) -> Result<Vec<Self::Final>, Vec<T>>;
    /// The keyed stages after this point.
    fn levels_after(&self) -> u32;
    /// The sink's number of partitions.
    fn sink_partitions(&self) -> u32;
    /// The sink partition a record of token (or key group) `token` goes to.
    fn sink_route(&self, token: u64, record: &Self::Final) -> u32;
    /// Adds the vertices from here to the sink to `graph`, fed by `from`.
    fn describe(&self, graph: &mut Graph, from: usize);
    /// Calls a sink partition: a batch's write, or where the next starts
    /// after a failed one.
    fn write(
        &self,
        partition: u32,
        committed: u64,
        call: SinkCall<'_, Self::Final>,
    ) -> impl Future<Output = io::Result<u64>> + Send;
}

/// What a key group's batch produced: output, and records too late for
/// their windows (as JSON, for the late-data output).
pub(crate) struct GroupOutput<O> {
    pub out: Vec<O>,
    pub late: Vec<serde_json::Value>,
    /// What failed while firing, for the dead-letter output.
    pub failed: Vec<FireFailed>,
    /// Records an enrichment stage could not enrich, and why, for the
    /// dead-letter output.
    pub dropped: Vec<(Option<serde_json::Value>, String)>,
}

/// What firing a group's due timers gave.
pub(crate) struct Fired<O> {
    pub out: Vec<O>,
    pub failed: Vec<FireFailed>,
}

/// A timer that failed while firing, or one of its results that the
/// operators after the stage failed on: dead-lettered once, with the
/// timer's state entry (which names the window, or the key) and time.
#[derive(Debug)]
pub(crate) struct FireFailed {
    /// The timer's state entry: `w:{start}:{end}` for a window's pane,
    /// `s:{key}` for a key's sessions, `k:{key}` for a key's state.
    pub timer: String,
    /// When it was due (the entry's first timer due).
    pub at: Millis,
    /// Why it failed.
    pub error: StageError,
    /// The entry as it was before the firing, when the firing itself
    /// failed (what was due in it is dropped, and kept here).
    pub entry: Option<serde_json::Value>,
}

impl FireFailed {
    /// The dead letter's record: the timer, and the entry it dropped.
    pub(crate) fn record(&self) -> serde_json::Value {
        match &self.entry {
            Some(entry) => {
                serde_json::json!({ "timer": self.timer, "at": self.at, "entry": entry })
            }
            None => serde_json::json!({ "timer": self.timer, "at": self.at }),
        }
    }

    /// The dead letter's error.
    pub(crate) fn message(&self) -> String {
        format!("firing {} due at {}: {}", self.timer, self.at, self.error)
    }
}

/// A whole pipeline: source, a branch (or none), operators, then its
/// keyed stages.
///
/// Built by the typed API's `sink`, which checks every bound once and hides
/// the type in a [`CompletePipeline`](crate::complete::CompletePipeline).
pub(crate) struct Stages<S, B, Pre, L> {
    pub(crate) name: String,
    pub(crate) config: PipelineConfig,
    pub(crate) source: S,
    pub(crate) branch: B,
    pub(crate) pre: Pre,
    pub(crate) first: Arc<L>,
}

/// A keyed stage `keyed` over records of type `In`, the operators after
/// it, and where they go.
pub(crate) struct Chained<In, K, Post, Down> {
    pub(crate) input: std::marker::PhantomData<fn(In)>,
    pub(crate) config: PipelineConfig,
    pub(crate) keyed: K,
    pub(crate) post: Post,
    pub(crate) down: Down,
}

/// The output goes to the sink.
pub(crate) struct ToSink<Sk>(pub(crate) Sk);

/// The output goes to the next keyed stage.
pub(crate) struct Next<L>(pub(crate) Arc<L>);

impl<S, B, Pre, L> Dataflow for Stages<S, B, Pre, L>
where
    S: Source,
    B: Branching<S::Item>,
    Pre: Operator<B::Out>,
    Pre::Out: Record,
    L: Level<Mid = Pre::Out>,
{
    type Input = S::Item;
    type Source = S;
    type Mid = Pre::Out;
    type Out = L::Final;
    type Side = B::Side;
    type First = L;

    fn name(&self) -> &str {
        &self.name
    }

    fn config(&self) -> &PipelineConfig {
        &self.config
    }

    fn source(&self) -> &S {
        &self.source
    }

    fn before_key(
        &self,
        record: S::Item,
        out: &mut Vec<Pre::Out>,
        side: &mut Vec<B::Side>,
        stamps: &Stamps,
    ) {
        let mut on = |record| self.pre.apply_stamped(record, &mut |x| out.push(x), stamps);
        self.branch.apply(record, &mut on, side, stamps);
    }

    fn side_partitions(&self) -> u32 {
        self.branch.partitions()
    }

    fn by_side_partition(
        &self,
        token: u64,
        side: Vec<B::Side>,
    ) -> std::collections::BTreeMap<u32, Vec<B::Side>> {
        let mut partitions = std::collections::BTreeMap::<u32, Vec<B::Side>>::new();
        for record in side {
            let partition = self.branch.route(token, &record);
            partitions.entry(partition).or_default().push(record);
        }
        partitions
    }

    fn write_side(
        &self,
        partition: u32,
        committed: u64,
        call: SinkCall<'_, B::Side>,
    ) -> impl Future<Output = io::Result<u64>> + Send {
        self.branch.write(partition, committed, call)
    }

    fn first(&self) -> &Arc<L> {
        &self.first
    }

    fn graph(&self) -> Graph {
        let mut graph = Graph::new();
        let mut names = stage_names::<S>(false);
        names.extend(stage_names::<Pre>(true));
        let source = graph.push(None, VertexKind::Source, names.join(" → "), self.splits());
        if self.side_partitions() > 0 {
            let name = "branch".to_owned();
            graph.push(Some(source), VertexKind::Sink, name, self.side_partitions());
        }
        self.first.describe(&mut graph, source);
        graph
    }
}

impl<In, K, Post, Down> Level for Chained<In, K, Post, Down>
where
    In: Record,
    K: KeyedStage<In>,
    K::State: Record,
    Post: Operator<K::Out>,
    Post::Out: Record,
    Down: Downstream<Post::Out>,
{
    type Mid = In;
    type State = K::State;
    type Out = Post::Out;
    type Final = Down::Final;
    type Down = Down;

    fn config(&self) -> &PipelineConfig {
        &self.config
    }

    fn is_keyed(&self) -> bool {
        self.keyed.is_keyed()
    }

    fn encode_key(&self, record: &Self::Mid) -> Result<String, serde_json::Error> {
        self.keyed.encode_key(record)
    }

    fn time_domain(&self) -> Option<TimeDomain> {
        self.keyed.domain()
    }

    fn fires_once_on_event_time(&self) -> bool {
        self.keyed.fires_once_on_event_time()
    }

    fn combiner(&self) -> Option<Combiner<'_, Self::Mid>> {
        self.keyed
            .combiner()
            .filter(|_| self.config.combine_before_shuffle)
    }

    fn keyed_entries(&self, batch: &ByKey<Self::Mid>, scope: &Scope<'_>) -> Vec<String> {
        self.keyed.entries(batch, scope)
    }

    fn looks_up(&self) -> bool {
        self.keyed.looks_up()
    }

    fn lookups(
        &self,
        batch: &ByKey<Self::Mid>,
        state: &GroupState,
        now: Millis,
    ) -> Result<Vec<Planned>, RecordFailed> {
        self.keyed.lookups(batch, state, now)
    }

    fn lookup_options(&self) -> Enrich {
        self.keyed.lookup_options()
    }

    fn apply_keyed(
        &self,
        state: &mut GroupState,
        batch: ByKey<Self::Mid>,
        scope: &mut Scope<'_>,
    ) -> Result<GroupOutput<Post::Out>, RecordFailed> {
        let mut out = Vec::new();
        let mut late = Vec::new();
        let cx = Cx {
            state,
            scope: &mut *scope,
            out: &mut |record| self.post.apply(record, &mut |x| out.push(x)),
            late: &mut |record| late.push(as_late(&record)),
        };
        self.keyed.apply(batch, cx)?;
        late.append(&mut scope.late);
        let failed = Vec::new();
        let dropped = std::mem::take(&mut scope.dropped);
        Ok(GroupOutput {
            out,
            late,
            failed,
            dropped,
        })
    }

    /// Fires each timer's state entry on its own: one whose firing fails
    /// (a user function panics, its state does not decode) is put back as
    /// it was less what was due (see [`KeyedStage::forget`]) and answered
    /// as failed; a result the operators after the stage fail on is
    /// answered alone, and the rest of its timer's results go on.
    fn fire(
        &self,
        state: &mut GroupState,
        due: Vec<Due>,
        scope: &mut Scope<'_>,
    ) -> Fired<Post::Out> {
        let mut fired = Fired {
            out: Vec::new(),
            failed: Vec::new(),
        };
        for dues in by_entry(due) {
            let (timer, at) = (dues[0].tag.clone(), dues[0].at);
            let before = state.snapshot(&timer);
            let mut out = Vec::new();
            // Timers make no late records today; any a stage gave would go
            // to the late-data output with the call's (see `GroupCall::run`).
            let mut late = Vec::new();
            let mut results = Vec::new();
            let firing = guarded(|| {
                let cx = Cx {
                    state: &mut *state,
                    scope: &mut *scope,
                    out: &mut |record| {
                        let post = guarded(|| {
                            self.post.apply(record, &mut |x| out.push(x));
                            Ok::<_, StageError>(())
                        });
                        if let Err(error) = post {
                            results.push(error);
                        }
                    },
                    late: &mut |record| late.push(as_late(&record)),
                };
                self.keyed.fire(dues, cx)
            });
            let failed = |error, entry| FireFailed {
                timer: timer.clone(),
                at,
                error,
                entry,
            };
            match firing {
                Ok(()) => {
                    fired.out.append(&mut out);
                    scope.late.append(&mut late);
                    fired
                        .failed
                        .extend(results.into_iter().map(|e| failed(e, None)));
                }
                Err(error) => {
                    // Put back as it was, less what was due: its next visit
                    // must not fire the failed timer again, nor lose the
                    // ones due later. The letter keeps the entry as it was.
                    let entry = before.json();
                    state.restore(&timer, before);
                    let forgot = guarded(|| self.keyed.forget(&timer, state, scope));
                    if forgot.is_err() {
                        state.clear(&timer);
                    }
                    fired.failed.push(failed(error, entry));
                }
            }
        }
        fired
    }

    fn unkeyed(&self, record: Self::Mid, out: &mut Vec<Down::Final>) -> Result<(), Self::Mid> {
        if self.down.next().is_some() {
            return Err(record);
        }
        let record = self.keyed.pass_through(record)?;
        let mut passed = Vec::new();
        self.post.apply(record, &mut |x| passed.push(x));
        // Always `Ok`: the output goes to the sink, as checked above.
        if let Ok(records) = self.down.to_sink(passed) {
            out.extend(records);
        }
        Ok(())
    }

    fn down(&self) -> &Down {
        &self.down
    }

    fn visit_at<V: AtLevel>(&self, below: u32, visit: V) -> Option<V::Out> {
        match below {
            0 => Some(visit.at(self)),
            below => self.down.next()?.visit_at(below - 1, visit),
        }
    }

    fn describe(&self, graph: &mut Graph, from: usize) {
        let after = stage_names::<Post>(true);
        if !self.is_keyed() {
            let vertex = &mut graph.vertices[from];
            for name in after {
                vertex.name = format!("{} → {name}", vertex.name);
            }
            return self.down.describe(graph, from);
        }
        let mut names = vec!["key_by".to_owned()];
        names.extend(stage_names::<K>(true));
        names.extend(after);
        let groups = self.config.key_groups.count();
        let id = graph.push(Some(from), VertexKind::Keyed, names.join(" → "), groups);
        self.down.describe(graph, id);
    }
}

impl<T, Sk> Downstream<T> for ToSink<Sk>
where
    T: Record,
    Sk: Sink<T>,
{
    type Final = T;
    type Next = NoStage<T>;

    fn next(&self) -> Option<&Arc<NoStage<T>>> {
        None
    }

    fn to_sink(&self, records: Vec<T>) -> Result<Vec<T>, Vec<T>> {
        Ok(records)
    }

    fn levels_after(&self) -> u32 {
        0
    }

    fn sink_partitions(&self) -> u32 {
        self.0.partitions().max(1)
    }

    fn sink_route(&self, token: u64, record: &T) -> u32 {
        self.0.route(token, record) % self.sink_partitions()
    }

    fn describe(&self, graph: &mut Graph, from: usize) {
        let name = stage_names::<Sk>(false).join(" → ");
        graph.push(Some(from), VertexKind::Sink, name, self.sink_partitions());
    }

    fn write(
        &self,
        partition: u32,
        committed: u64,
        call: SinkCall<'_, T>,
    ) -> impl Future<Output = io::Result<u64>> + Send {
        call.to(&self.0, partition, committed)
    }
}

/// The type of the sink's next keyed stage, which is never built: a
/// stage that passes its input on to a sink that prints it, both of which
/// exist for other uses, so that the type costs no code of its own.
pub(crate) type NoStage<T> = Chained<T, Unkeyed, Identity, ToSink<ConsoleSink>>;

impl<T, L> Downstream<T> for Next<L>
where
    T: Record,
    L: Level<Mid = T>,
{
    type Final = L::Final;
    type Next = L;

    fn next(&self) -> Option<&Arc<L>> {
        Some(&self.0)
    }

    fn to_sink(&self, records: Vec<T>) -> Result<Vec<L::Final>, Vec<T>> {
        Err(records)
    }

    fn levels_after(&self) -> u32 {
        1 + self.0.down().levels_after()
    }

    fn sink_partitions(&self) -> u32 {
        self.0.down().sink_partitions()
    }

    fn sink_route(&self, token: u64, record: &L::Final) -> u32 {
        self.0.down().sink_route(token, record)
    }

    fn describe(&self, graph: &mut Graph, from: usize) {
        self.0.describe(graph, from)
    }

    fn write(
        &self,
        partition: u32,
        committed: u64,
        call: SinkCall<'_, L::Final>,
    ) -> impl Future<Output = io::Result<u64>> + Send {
        self.0.down().write(partition, committed, call)
    }
}

/// A late record as the late-data output keeps it.
fn as_late<T: Record>(record: &T) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or_default()
}

/// Due timers by the state entry they visit, in the order each entry was
/// first due, each entry's in order.
fn by_entry(due: Vec<Due>) -> Vec<Vec<Due>> {
    let mut entries: Vec<Vec<Due>> = Vec::new();
    let mut index = std::collections::HashMap::<String, usize>::new();
    for due in due {
        match index.get(&due.tag) {
            Some(&at) => entries[at].push(due),
            None => {
                index.insert(due.tag.clone(), entries.len());
                entries.push(vec![due]);
            }
        }
    }
    entries
}
