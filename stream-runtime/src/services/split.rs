//! `{name}Split`: each source split's durable position.

use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::serve::{index_key, Serves};
use super::{ServiceHandlers, Stage};
use crate::protocol::handlers::{split, SplitService};
use crate::protocol::{Lease, SplitProgress};
use crate::stages::Dataflow;

const POSITION: &str = "position";
/// Present (true) while the pipeline is stopped: nothing more is leased.
const STOPPED: &str = "stopped";

impl<D: Dataflow> ServiceHandlers<D> for SplitService {
    type Handlers = (split::Next, split::Stop, split::Resume, split::Progress);
}

impl<D: Dataflow> Stage<SplitService, D> {
    fn split(&self, key: &str) -> Result<u32, TerminalError> {
        index_key(key, "split", self.flow.splits())
    }
}

/// Leases the next `max` positions of this split and moves its position past
/// them. The lease is the call's journaled result, so a replayed `ingest`
/// reads the very same range.
impl<'a, D: Dataflow> Serves<'a, split::Next> for Stage<SplitService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        max: u32,
    ) -> HandlerResult<Lease> {
        let split = self.split(ctx.key())?;
        let from = ctx.get::<u64>(POSITION).await?.unwrap_or(0);
        let count = if ctx.get::<bool>(STOPPED).await?.unwrap_or(false) {
            0
        } else if self.flow.is_bounded() {
            // Bounded sources may end inside the range: lease only what exists.
            self.flow.available(split, from, max as usize) as u32
        } else {
            max
        };
        if count > 0 {
            ctx.set(POSITION, from + u64::from(count));
        }
        Ok(Lease { from, count })
    }
}

/// Stops leasing: every later `next` answers an empty lease, so the tokens
/// finish the ranges they hold and park.
impl<'a, D: Dataflow> Serves<'a, split::Stop> for Stage<SplitService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<()> {
        self.split(ctx.key())?;
        ctx.set(STOPPED, true);
        Ok(())
    }
}

/// Leases again after a stop, from where the split stopped.
impl<'a, D: Dataflow> Serves<'a, split::Resume> for Stage<SplitService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<()> {
        self.split(ctx.key())?;
        ctx.clear(STOPPED);
        Ok(())
    }
}

impl<'a, D: Dataflow> Serves<'a, split::Progress> for Stage<SplitService, D> {
    async fn serve(
        &'a self,
        ctx: SharedObjectContext<'a>,
        _calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<SplitProgress> {
        let split = self.split(ctx.key())?;
        let position = ctx.get::<u64>(POSITION).await?.unwrap_or(0);
        let stopped = ctx.get::<bool>(STOPPED).await?.unwrap_or(false);
        let flow = &self.flow;
        let exhausted = stopped || (flow.is_bounded() && flow.available(split, position, 1) == 0);
        Ok(SplitProgress {
            position,
            exhausted,
        })
    }
}
