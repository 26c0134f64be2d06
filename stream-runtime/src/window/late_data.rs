//! `sideOutputLateData`: a window's late records as part of its output,
//! beside its results, for a [`SideOutput`](crate::sink::SideOutput) to
//! write to a sink of their own.

use crate::guard::{RecordFailed, StageError};
use crate::keyed::{ByKey, Chainable, Cx, Due, GroupState, KeyedStage, Scope, TimeDomain};
use crate::record::Record;
use crate::sink::To;

/// A window stage whose output is `To::Main(result)` for each result and
/// `To::Side(record)` for each record too late for every window it
/// belongs to (Flink's `sideOutputLateData`). Such records then leave the
/// late-data output (`status.late_records`) for the pipeline's own output.
///
/// Built by [`Stream::side_output_late_data`](crate::Stream::side_output_late_data)
/// (`window(.., late = side)` in `pipeline!`); write it with
/// [`SideOutput::split`](crate::sink::SideOutput::split).
pub struct LateToSide<W>(pub(crate) W);

impl<W> Chainable for LateToSide<W> {}

impl<In, W> KeyedStage<In> for LateToSide<W>
where
    In: Send + Sync + 'static,
    W: KeyedStage<In>,
{
    type Out = To<W::Out, In>;
    type State = W::State;

    fn is_keyed(&self) -> bool {
        self.0.is_keyed()
    }

    fn encode_key(&self, record: &In) -> Result<String, serde_json::Error> {
        self.0.encode_key(record)
    }

    fn pass_through(&self, record: In) -> Result<Self::Out, In> {
        self.0.pass_through(record).map(To::Main)
    }

    fn domain(&self) -> Option<TimeDomain> {
        self.0.domain()
    }

    fn entries(&self, batch: &ByKey<In>, scope: &Scope<'_>) -> Vec<String> {
        self.0.entries(batch, scope)
    }

    fn apply(&self, batch: ByKey<In>, cx: Cx<'_, '_, In, Self::Out>) -> Result<(), RecordFailed>
    where
        Self::State: Record,
    {
        routed(cx, |cx| self.0.apply(batch, cx))
    }

    fn fire(&self, due: Vec<Due>, cx: Cx<'_, '_, In, Self::Out>) -> Result<(), StageError>
    where
        Self::State: Record,
    {
        routed(cx, |cx| self.0.fire(due, cx))
    }

    fn forget(
        &self,
        entry: &str,
        state: &mut GroupState,
        scope: &Scope<'_>,
    ) -> Result<(), StageError>
    where
        Self::State: Record,
    {
        self.0.forget(entry, state, scope)
    }
}

/// Runs `f` with `cx` as the window sees it: its results go to `cx.out`
/// as `To::Main`, and its late records as `To::Side`, both in the order
/// the window gives them.
fn routed<In, Out, R>(
    cx: Cx<'_, '_, In, To<Out, In>>,
    f: impl FnOnce(Cx<'_, '_, In, Out>) -> R,
) -> R {
    let Cx {
        state, scope, out, ..
    } = cx;
    let out = std::cell::RefCell::new(out);
    f(Cx {
        state,
        scope,
        out: &mut |result| (out.borrow_mut())(To::Main(result)),
        late: &mut |record| (out.borrow_mut())(To::Side(record)),
    })
}
