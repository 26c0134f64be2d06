//! `{name}Keyed`: key groups, each holding the state of its keys.

use std::collections::HashMap;

use restate_sdk::discovery::ServiceType;
use restate_sdk::endpoint::ContextInternal;
use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;
use restate_sdk::service::macro_support::ServiceBoxFuture;
use restate_sdk::service::Service;

use super::dispatch::{self, HandlerSpec};
use super::guard::{guarded, RecordFailed};
use super::Stage;
use crate::keyed::state_key;
use crate::names::{handler, ServiceNames};
use crate::stages::Dataflow;

pub(crate) struct KeyedService<D>(pub(crate) Stage<D>);

/// State is read lazily, key by key: a group can hold many keys, and eager
/// state would ship all of them with every invocation.
pub(crate) fn manifest(names: &ServiceNames) -> Result<restate_sdk::discovery::Service, String> {
    dispatch::manifest(
        &names.keyed,
        ServiceType::VirtualObject,
        &[HandlerSpec::exclusive(handler::PROCESS).lazy_state()],
    )
}

impl<D: Dataflow> Service for KeyedService<D> {
    type Future = ServiceBoxFuture;

    fn handle(&self, ctx: ContextInternal) -> Self::Future {
        let stage = self.0.clone();
        Box::pin(async move {
            match ctx.handler_name() {
                handler::PROCESS => {
                    dispatch::run(&ctx, |c, batch| process(&*stage.flow, c, batch)).await
                }
                _ => dispatch::unknown(&ctx),
            }
        })
    }
}

/// Applies the keyed operator to a batch of this group's records, in order.
/// Each distinct key's state is read once, updated in memory for all its
/// records, and written back once, all inside this exclusive invocation.
async fn process<D: Dataflow>(
    flow: &D,
    ctx: ObjectContext<'_>,
    Json(batch): Json<Vec<D::Mid>>,
) -> HandlerResult<Vec<u8>> {
    // Any group number is accepted, not only those below this endpoint's
    // count: a round that began under another layout may still address
    // groups of that layout, and must finish there (its token stops at its
    // next round).
    dispatch::index_key(ctx.key(), "key group", u32::MAX)?;

    let mut slots: HashMap<String, usize> = HashMap::new();
    let mut keys: Vec<String> = Vec::new();
    let mut routed = Vec::with_capacity(batch.len());
    for (index, record) in batch.into_iter().enumerate() {
        let key = guarded(|| {
            flow.encode_key(&record)
                .map_err(|e| format!("cannot encode the record's key: {e}"))
        })
        .map_err(|error| RecordFailed { index, error }.into_terminal())?;
        let slot = *slots.entry(key).or_insert_with_key(|key| {
            keys.push(key.clone());
            keys.len() - 1
        });
        routed.push((slot, record));
    }

    let state_keys: Vec<String> = keys.iter().map(|key| state_key(key)).collect();
    // All reads are issued before any is awaited, so they travel together.
    let loads: Vec<_> = state_keys
        .iter()
        .map(|key| ctx.get::<Json<D::State>>(key))
        .collect();
    let mut states = Vec::with_capacity(keys.len());
    for load in loads {
        states.push(load.await?.map(|Json(state)| state));
    }
    let existed: Vec<bool> = states.iter().map(Option::is_some).collect();

    // A record that fails ends the call with its index and no state
    // written; the token decides whether to try again or drop it.
    let mut out = Vec::new();
    for (index, (slot, record)) in routed.into_iter().enumerate() {
        let state = &mut states[slot];
        let out = &mut out;
        guarded(|| {
            flow.apply_keyed(state, record, out)
                .map_err(|e| e.to_string())
        })
        .map_err(|error| RecordFailed { index, error }.into_terminal())?;
    }

    // Serialized here: a failure is a terminal error the token dead-letters,
    // where inside the SDK it would be retried forever.
    let out = serde_json::to_vec(&out)
        .map_err(|e| TerminalError::new(format!("cannot serialize the keyed output: {e}")))?;
    for ((key, state), existed) in state_keys.iter().zip(states).zip(existed) {
        match state {
            Some(state) => ctx.set(key, Json(state)),
            None if existed => ctx.clear(key),
            None => {}
        }
    }
    Ok(out)
}
