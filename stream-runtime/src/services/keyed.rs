//! `{name}Keyed`: key groups, each holding the state of its keys.

use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::serve::{index_key, Serves};
use super::{ServiceHandlers, Stage};
use crate::keyed::{apply, by_key, state_key, write_back, WriteBack};
use crate::protocol::handlers::{keyed, KeyedService};
use crate::protocol::Encoded;
use crate::stages::Dataflow;

impl<D: Dataflow> ServiceHandlers<D> for KeyedService {
    type Handlers = (keyed::Process<D>,);
}

/// Applies the keyed operator to a batch of this group's records, in order.
/// Each distinct key's state is read once, updated in memory for all its
/// records, and written back once, all inside this exclusive invocation. A
/// record that fails ends the call with its index and no state written;
/// the token decides whether to try again or drop it.
impl<'a, D: Dataflow> Serves<'a, keyed::Process<D>> for Stage<KeyedService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        __calls: RestateCalls<'a>,
        batch: Vec<D::Mid>,
    ) -> HandlerResult<Encoded<Vec<D::Out>>> {
        // Any group number is accepted, not only those below this endpoint's
        // count: a round that began under another layout may still address
        // groups of that layout, and must finish there (its token stops at
        // its next round).
        index_key(ctx.key(), "key group", u32::MAX)?;
        let flow = &*self.flow;
        let grouped = by_key(flow, batch).map_err(|failed| failed.into_terminal())?;

        let state_keys: Vec<String> = grouped.keys.iter().map(|key| state_key(key)).collect();
        // All reads are issued before any is awaited, so they travel together.
        let loads: Vec<_> = state_keys
            .iter()
            .map(|key| ctx.get::<Json<D::State>>(key))
            .collect();
        let mut states = Vec::with_capacity(state_keys.len());
        for load in loads {
            states.push(load.await?.map(|Json(state)| state));
        }
        let existed: Vec<bool> = states.iter().map(Option::is_some).collect();

        let out = apply(flow, grouped.records, &mut states).map_err(|f| f.into_terminal())?;
        // Encoded before any state is written: output that cannot be encoded
        // is a terminal error the token dead-letters, with no state changed.
        let out = Encoded::new(&out)
            .map_err(|e| TerminalError::new(format!("cannot serialize the keyed output: {e}")))?;
        for ((key, state), existed) in state_keys.iter().zip(states).zip(existed) {
            match write_back(existed, state) {
                WriteBack::Set(state) => ctx.set(key, Json(state)),
                WriteBack::Clear => ctx.clear(key),
                WriteBack::Nothing => {}
            }
        }
        Ok(out)
    }
}
