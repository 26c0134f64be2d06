//! `{name}Sink`: sink partitions, each writing one batch at a time, once.

use std::time::Duration;

use restate_sdk::discovery::ServiceType;
use restate_sdk::endpoint::ContextInternal;
use restate_sdk::errors::{HandlerError, HandlerResult};
use restate_sdk::prelude::*;
use restate_sdk::service::macro_support::ServiceBoxFuture;
use restate_sdk::service::Service;

use super::dispatch::{self, HandlerSpec};
use super::guard::guarded;
use super::Stage;
use crate::names::{handler, ServiceNames};
use crate::protocol::SinkProgress;
use crate::stages::Dataflow;

const PROGRESS: &str = "progress";

pub(crate) struct SinkService<D>(pub(crate) Stage<D>);

pub(crate) fn manifest(names: &ServiceNames) -> Result<restate_sdk::discovery::Service, String> {
    dispatch::manifest(
        &names.sink,
        ServiceType::VirtualObject,
        &[
            HandlerSpec::exclusive(handler::WRITE),
            HandlerSpec::shared(handler::PROGRESS),
        ],
    )
}

impl<D: Dataflow> Service for SinkService<D> {
    type Future = ServiceBoxFuture;

    fn handle(&self, ctx: ContextInternal) -> Self::Future {
        let stage = self.0.clone();
        Box::pin(async move {
            match ctx.handler_name() {
                handler::WRITE => {
                    dispatch::run(&ctx, |c, batch| write(&*stage.flow, c, batch)).await
                }
                handler::PROGRESS => dispatch::run(&ctx, |c, ()| progress(&*stage.flow, c)).await,
                _ => dispatch::unknown(&ctx),
            }
        })
    }
}

/// Writes a batch after the committed offset, journals the new offset and
/// stores it: a write cut short by a crash is redone from the same offset.
async fn write<D: Dataflow>(
    flow: &D,
    ctx: ObjectContext<'_>,
    Json(records): Json<Vec<D::Out>>,
) -> HandlerResult<()> {
    let partition = dispatch::index_key(ctx.key(), "sink partition", flow.sink_partitions())?;
    let mut progress = ctx
        .get::<Json<SinkProgress>>(PROGRESS)
        .await?
        .map(|Json(p)| p)
        .unwrap_or_default();
    let committed = progress.committed;
    let records = &records;
    // Bounded: after the last attempt the write fails terminally, nothing is
    // committed, and the token sends the batch to the dead-letter output.
    let retry = RunRetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .exponentiation_factor(2.0)
        .max_delay(Duration::from_secs(5))
        .max_attempts(flow.config().max_attempts);
    progress.committed = ctx
        .run(|| async move {
            guarded(|| {
                flow.write(partition, committed, records)
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| HandlerError::from(std::io::Error::other(e)))
        })
        .retry_policy(retry)
        .name("write")
        .await?;
    progress.records += records.len() as u64;
    ctx.set(PROGRESS, Json(progress));
    Ok(())
}

async fn progress<D: Dataflow>(
    flow: &D,
    ctx: SharedObjectContext<'_>,
) -> HandlerResult<Json<SinkProgress>> {
    dispatch::index_key(ctx.key(), "sink partition", flow.sink_partitions())?;
    Ok(Json(
        ctx.get::<Json<SinkProgress>>(PROGRESS)
            .await?
            .map(|Json(p)| p)
            .unwrap_or_default(),
    ))
}
