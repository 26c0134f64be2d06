//! `{name}Source`: the token driver. Each token is one `ingest` invocation
//! that moves one batch through the whole pipeline and then sends itself
//! again, so no operator can lose or duplicate a token.

use std::collections::BTreeMap;

use restate_sdk::context::RequestTarget;
use restate_sdk::discovery::ServiceType;
use restate_sdk::endpoint::ContextInternal;
use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;
use restate_sdk::service::macro_support::ServiceBoxFuture;
use restate_sdk::service::Service;

use super::dispatch::{self, HandlerSpec, Payload};
use super::Stage;
use crate::dataflow::Dataflow;
use crate::keyed::key_group;
use crate::names::{handler, ServiceNames, CONTROL_KEY};
use crate::protocol::{
    ControlState, DeadLetter, Lease, SinkProgress, SplitProgress, Status, Token, TokensAdded,
};

/// The most tokens one `addTokens` call may add.
pub const MAX_TOKENS_PER_CALL: u64 = 10_000;

pub(crate) struct SourceService<D>(pub(crate) Stage<D>);

pub(crate) fn manifest(names: &ServiceNames) -> restate_sdk::discovery::Service {
    dispatch::manifest(
        &names.source,
        ServiceType::Service,
        &[
            HandlerSpec::exclusive(handler::ADD_TOKENS)
                .public()
                .input(Payload::Any),
            HandlerSpec::exclusive(handler::STATUS)
                .public()
                .input(Payload::Empty),
            HandlerSpec::exclusive(handler::INGEST),
        ],
    )
}

impl<D: Dataflow> Service for SourceService<D> {
    type Future = ServiceBoxFuture;

    fn handle(&self, ctx: ContextInternal) -> Self::Future {
        let stage = self.0.clone();
        Box::pin(async move {
            match ctx.handler_name() {
                handler::ADD_TOKENS => {
                    dispatch::run(&ctx, |c, body| add_tokens(&stage, c, body)).await
                }
                handler::INGEST => dispatch::run(&ctx, |c, token| ingest(&stage, c, token)).await,
                handler::STATUS => dispatch::run(&ctx, |c, ()| status(&stage, c)).await,
                _ => dispatch::unknown(&ctx),
            }
        })
    }
}

/// Parses the body of `addTokens`: a JSON number, whole, from 1 to
/// [`MAX_TOKENS_PER_CALL`]. Anything else is a terminal 400 with a message.
///
/// ```
/// use stream_runtime::parse_token_count;
/// assert_eq!(parse_token_count(b"10").unwrap(), 10);
/// assert_eq!(parse_token_count(b"-1").unwrap_err().code(), 400);
/// ```
pub fn parse_token_count(body: &[u8]) -> Result<u64, TerminalError> {
    let bad = |why: String| TerminalError::new_with_code(400, format!("addTokens: {why}"));
    let text = std::str::from_utf8(body)
        .map_err(|_| bad("the body is not UTF-8 text; send a number such as `10`".into()))?
        .trim();
    if text.is_empty() {
        return Err(bad(
            "the body is empty; send the number of tokens to add, such as `10`".into(),
        ));
    }
    let shown: String = text.chars().take(40).collect();
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        bad(format!(
            "`{shown}` is not a number; send the number of tokens to add, such as `10`"
        ))
    })?;
    let Some(number) = value.as_f64().filter(|_| value.is_number()) else {
        return Err(bad(format!("`{shown}` is not a whole number of tokens")));
    };
    if number.fract() != 0.0 {
        return Err(bad(format!("`{shown}` is not a whole number of tokens")));
    }
    if number < 1.0 {
        return Err(bad(format!(
            "`{shown}` tokens: the count must be at least 1"
        )));
    }
    if number > MAX_TOKENS_PER_CALL as f64 {
        return Err(bad(format!(
            "`{shown}` tokens is too many for one call; add at most {MAX_TOKENS_PER_CALL} at a time"
        )));
    }
    let n = number as u64;
    Ok(n)
}

async fn add_tokens<D: Dataflow>(
    stage: &Stage<D>,
    ctx: Context<'_>,
    body: Vec<u8>,
) -> HandlerResult<Json<TokensAdded>> {
    let n = parse_token_count(&body)?;
    Ok(ctx
        .request(
            RequestTarget::object(&stage.names.control, CONTROL_KEY, handler::ADD),
            Json(n),
        )
        .call()
        .await?)
}

/// One round of a token: lease a range, read it, run the operators, update
/// keyed state, write the sink, and pass the token on. Every step is a
/// journaled call, so a crash anywhere resumes this round where it stopped.
async fn ingest<D: Dataflow>(
    stage: &Stage<D>,
    ctx: Context<'_>,
    Json(token): Json<Token>,
) -> HandlerResult<()> {
    let flow = &*stage.flow;
    let names = &*stage.names;

    let Some((split, lease)) = lease(flow, names, &ctx, token).await? else {
        // A bounded source ran out: this token stops.
        ctx.request::<_, ()>(
            RequestTarget::object(&names.control, CONTROL_KEY, handler::PARK),
            Json(token),
        )
        .send();
        return Ok(());
    };
    let dead_letter = |stage: &str, error: String| {
        ctx.request::<_, ()>(
            RequestTarget::object(&names.control, CONTROL_KEY, handler::DEAD_LETTER),
            Json(DeadLetter {
                split,
                from: lease.from,
                count: lease.count,
                stage: stage.to_owned(),
                error,
            }),
        )
        .send();
    };

    let records = flow.read(split, lease.from, lease.count as usize);
    let records = flow.before_key(records);
    let output = match flow.unkeyed(records) {
        Ok(output) => output,
        Err(records) => {
            let groups = flow.config().key_groups;
            let mut by_group: BTreeMap<u32, Vec<D::Mid>> = BTreeMap::new();
            for record in records {
                match flow.encode_key(&record) {
                    Ok(key) => by_group
                        .entry(key_group(&key, groups))
                        .or_default()
                        .push(record),
                    Err(e) => dead_letter("key", format!("cannot encode a record's key: {e}")),
                }
            }
            // Every call is issued before any is awaited, so the key groups
            // work in parallel. (The SDK's futures must not be polled
            // concurrently, as `join_all` would.)
            let calls: Vec<_> = by_group
                .into_iter()
                .map(|(group, batch)| {
                    ctx.request::<_, Json<Vec<D::Out>>>(
                        RequestTarget::object(&names.keyed, group.to_string(), handler::PROCESS),
                        Json(batch),
                    )
                    .call()
                })
                .collect();
            let mut output = Vec::new();
            for call in calls {
                let result = call.await;
                match result {
                    Ok(Json(records)) => output.extend(records),
                    Err(e) => dead_letter("keyed", e.message().to_owned()),
                }
            }
            output
        }
    };

    if !output.is_empty() {
        let partition = (token.id % u64::from(flow.sink_partitions())).to_string();
        let written = ctx
            .request::<_, ()>(
                RequestTarget::object(&names.sink, partition, handler::WRITE),
                Json(output),
            )
            .call()
            .await;
        if let Err(e) = written {
            dead_letter("sink", e.message().to_owned());
        }
    }

    ctx.request::<_, ()>(
        RequestTarget::service(&names.source, handler::INGEST),
        Json(token),
    )
    .send();
    Ok(())
}

/// Leases the next range for `token`, starting with its own split and moving
/// on to the others when that one is exhausted. `None` when all are.
async fn lease<D: Dataflow>(
    flow: &D,
    names: &ServiceNames,
    ctx: &Context<'_>,
    token: Token,
) -> Result<Option<(u32, Lease)>, TerminalError> {
    let splits = flow.splits();
    let first = (token.id % u64::from(splits)) as u32;
    for offset in 0..splits {
        let split = (first + offset) % splits;
        let Json(lease) = ctx
            .request::<_, Json<Lease>>(
                RequestTarget::object(&names.split, split.to_string(), handler::NEXT),
                Json(flow.config().batch_size),
            )
            .call()
            .await?;
        if lease.count > 0 {
            return Ok(Some((split, lease)));
        }
    }
    Ok(None)
}

/// Gathers the counters of the control object, every split and every sink
/// partition.
async fn status<D: Dataflow>(stage: &Stage<D>, ctx: Context<'_>) -> HandlerResult<Json<Status>> {
    let flow = &*stage.flow;
    let names = &*stage.names;
    let Json(control) = ctx
        .request::<_, Json<ControlState>>(
            RequestTarget::object(&names.control, CONTROL_KEY, handler::GET),
            (),
        )
        .call()
        .await?;
    let splits: Vec<_> = (0..flow.splits())
        .map(|split| {
            ctx.request::<_, Json<SplitProgress>>(
                RequestTarget::object(&names.split, split.to_string(), handler::PROGRESS),
                (),
            )
            .call()
        })
        .collect();
    let sinks: Vec<_> = (0..flow.sink_partitions())
        .map(|partition| {
            ctx.request::<_, Json<SinkProgress>>(
                RequestTarget::object(&names.sink, partition.to_string(), handler::PROGRESS),
                (),
            )
            .call()
        })
        .collect();

    let mut records_in = 0;
    let mut exhausted = true;
    for split in splits {
        let Json(split) = split.await?;
        records_in += split.position;
        exhausted &= split.exhausted;
    }
    let mut records_out = 0;
    for sink in sinks {
        records_out += sink.await?.0.records;
    }
    let bounded = flow.is_bounded();
    Ok(Json(Status {
        tokens_injected: control.injected,
        tokens_in_flight: control.injected.saturating_sub(control.parked),
        records_in,
        records_out,
        dead_letters: control.dead_letters,
        bounded,
        finished: bounded
            && exhausted
            && control.injected > 0
            && control.parked == control.injected,
    }))
}
