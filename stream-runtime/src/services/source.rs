//! `{name}Source`: the token driver. Each token is one `ingest` invocation
//! that moves one batch through the whole pipeline and then sends itself
//! again, so no operator can lose or duplicate a token.

use std::collections::BTreeMap;

use restate_sdk::context::{CallFuture, RequestTarget};
use restate_sdk::discovery::ServiceType;
use restate_sdk::endpoint::ContextInternal;
use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;
use restate_sdk::service::macro_support::ServiceBoxFuture;
use restate_sdk::service::Service;

use super::dispatch::{self, HandlerSpec, Payload};
use super::guard::{guarded, RecordFailed};
use super::Stage;
use crate::keyed::key_group;
use crate::names::{handler, ServiceNames, CONTROL_KEY};
use crate::protocol::{
    ControlState, DeadLetter, Lease, SinkProgress, SplitProgress, Status, Token, TokensAdded,
};
use crate::stages::Dataflow;

/// The most tokens one `addTokens` call may add.
pub const MAX_TOKENS_PER_CALL: u64 = 10_000;

pub(crate) struct SourceService<D>(pub(crate) Stage<D>);

pub(crate) fn manifest(names: &ServiceNames) -> Result<restate_sdk::discovery::Service, String> {
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
            HandlerSpec::exclusive(handler::STOP)
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
                handler::STOP => dispatch::run(&ctx, |c, ()| stop(&stage, c)).await,
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

/// Stops the pipeline (see `{name}Control/stop`); `addTokens` resumes it.
async fn stop<D: Dataflow>(stage: &Stage<D>, ctx: Context<'_>) -> HandlerResult<()> {
    Ok(ctx
        .request::<_, ()>(
            RequestTarget::object(&stage.names.control, CONTROL_KEY, handler::STOP),
            (),
        )
        .call()
        .await?)
}

/// One round of a token: lease a range, read it, run the operators, update
/// keyed state, write the sink, and pass the token on. Every step is a
/// journaled call, so a crash anywhere resumes this round where it stopped.
/// A record that keeps failing goes to the dead-letter output; the token
/// always goes on.
async fn ingest<D: Dataflow>(
    stage: &Stage<D>,
    ctx: Context<'_>,
    Json(token): Json<Token>,
) -> HandlerResult<()> {
    let flow = &*stage.flow;
    let names = &*stage.names;

    let ours = super::layout(flow);
    if let Some(conflict) =
        (token.layout).and_then(|theirs| ours.conflict(&names.pipeline, &theirs))
    {
        // Another layout would put state where this pipeline's is not.
        halt(names, &ctx, conflict);
        return Ok(());
    }

    let leased = match lease(flow, names, &ctx, token).await {
        Ok(leased) => leased,
        Err(error) => {
            // Terminal, so trying again cannot help; stop visibly instead
            // of failing the invocation, which would lose the token unseen.
            let reason = format!(
                "token {} could not lease a range: {}",
                token.id,
                error.message()
            );
            halt(names, &ctx, reason);
            return Ok(());
        }
    };
    let Some((split, lease)) = leased else {
        // A bounded source ran out, or the pipeline was stopped: this token parks.
        ctx.request::<_, ()>(
            RequestTarget::object(&names.control, CONTROL_KEY, handler::PARK),
            Json(token),
        )
        .send();
        return Ok(());
    };
    let round = Round {
        flow,
        names,
        ctx: &ctx,
        split,
        lease,
    };

    let routed = round.before_key();
    let mut output = routed.output;
    if !routed.groups.is_empty() {
        output.extend(round.keyed(routed.groups).await);
    }
    if !output.is_empty() {
        round.write(token, output).await;
    }

    ctx.request::<_, ()>(
        RequestTarget::service(&names.source, handler::INGEST),
        Json(token),
    )
    .send();
    Ok(())
}

/// Stops the token, recording why in the control object (see `status`).
fn halt(names: &ServiceNames, ctx: &Context<'_>, reason: String) {
    ctx.request::<_, ()>(
        RequestTarget::object(&names.control, CONTROL_KEY, handler::HALT),
        Json(reason),
    )
    .send();
}

/// One token's round over one leased range.
struct Round<'a, D> {
    flow: &'a D,
    names: &'a ServiceNames,
    ctx: &'a Context<'a>,
    split: u32,
    lease: Lease,
}

/// The records of a key group, with the source position of each.
struct GroupBatch<M> {
    records: Vec<M>,
    positions: Vec<u64>,
}

/// A range after the operators before `key_by`: batches per key group, or,
/// with no keyed stage, the output itself.
struct Routed<M, O> {
    groups: BTreeMap<u32, GroupBatch<M>>,
    output: Vec<O>,
}

impl<D: Dataflow> Round<'_, D> {
    fn dead_letter(
        &self,
        position: u64,
        count: u32,
        stage: &str,
        error: String,
        record: Option<serde_json::Value>,
    ) {
        self.ctx
            .request::<_, ()>(
                RequestTarget::object(&self.names.control, CONTROL_KEY, handler::DEAD_LETTER),
                Json(DeadLetter {
                    split: self.split,
                    position,
                    count,
                    stage: stage.to_owned(),
                    error,
                    record,
                }),
            )
            .send();
    }

    /// Reads the range and runs each record through the operators before
    /// `key_by` (and, without one, the rest), routing the results. A record
    /// whose operators fail is read again and retried, up to the attempt
    /// limit, then dead-lettered.
    fn before_key(&self) -> Routed<D::Mid, D::Out> {
        let flow = self.flow;
        let groups = flow.config().key_groups;
        let attempts = flow.config().max_attempts;
        let mut routed = Routed {
            groups: BTreeMap::new(),
            output: Vec::new(),
        };
        let records = flow.read(self.split, self.lease.from, self.lease.count as usize);
        for (position, record) in (self.lease.from..).zip(records) {
            let mut record = Some(record);
            let mut attempt = 1;
            let result = loop {
                let input = match record.take() {
                    Some(input) => input,
                    None => match flow.read(self.split, position, 1).pop() {
                        Some(input) => input,
                        None => break Err(format!("position {position} could not be read again")),
                    },
                };
                let result = guarded(|| {
                    let mut mids = Vec::new();
                    flow.before_key(input, &mut mids);
                    let mut keyed = Vec::new();
                    let mut output = Vec::new();
                    for mid in mids {
                        if let Err(mid) = flow.unkeyed(mid, &mut output) {
                            let key = flow
                                .encode_key(&mid)
                                .map_err(|e| format!("cannot encode the record's key: {e}"))?;
                            keyed.push((key_group(&key, groups), mid));
                        }
                    }
                    Ok((keyed, output))
                });
                match result {
                    Err(_) if attempt < attempts => attempt += 1,
                    Err(error) => break Err(format!("{error} (after {attempt} attempts)")),
                    Ok(done) => break Ok(done),
                }
            };
            match result {
                Ok((keyed, output)) => {
                    routed.output.extend(output);
                    for (group, mid) in keyed {
                        let batch = routed.groups.entry(group).or_insert_with(|| GroupBatch {
                            records: Vec::new(),
                            positions: Vec::new(),
                        });
                        batch.records.push(mid);
                        batch.positions.push(position);
                    }
                }
                Err(error) => self.dead_letter(position, 1, "before_key", error, None),
            }
        }
        routed
    }

    /// Calls a key group with a batch serialized here, so that a batch that
    /// cannot be serialized is dead-lettered instead of failing the round.
    async fn call_group(
        &self,
        group: u32,
        records: &[D::Mid],
    ) -> Result<Vec<D::Out>, TerminalError> {
        self.issue_call(group, records)?.await.map(|Json(out)| out)
    }

    fn issue_call(
        &self,
        group: u32,
        records: &[D::Mid],
    ) -> Result<impl CallFuture<Response = Json<Vec<D::Out>>> + Send + '_, TerminalError> {
        let body = serde_json::to_vec(records).map_err(|e| {
            TerminalError::new(format!("cannot serialize the batch for its key group: {e}"))
        })?;
        Ok(self
            .ctx
            .request::<_, Json<Vec<D::Out>>>(
                RequestTarget::object(&self.names.keyed, group.to_string(), handler::PROCESS),
                body,
            )
            .call())
    }

    /// Calls every key group the range touches. All calls are issued before
    /// any is awaited, so the groups work in parallel. (The SDK's futures
    /// must not be polled concurrently, as `join_all` would.) A group that
    /// reports a failing record is called again; after the attempt limit the
    /// record is dead-lettered and the group is called with the rest.
    async fn keyed(&self, groups: BTreeMap<u32, GroupBatch<D::Mid>>) -> Vec<D::Out> {
        let attempts = self.flow.config().max_attempts;
        let calls: Vec<_> = groups
            .iter()
            .map(|(group, batch)| self.issue_call(*group, &batch.records))
            .collect();
        let mut output = Vec::new();
        let mut failed = Vec::new();
        for ((group, batch), call) in groups.into_iter().zip(calls) {
            let result = match call {
                Ok(call) => call.await.map(|Json(out)| out),
                Err(error) => Err(error),
            };
            match result {
                Ok(records) => output.extend(records),
                Err(error) => failed.push((group, batch, error)),
            }
        }
        for (group, mut batch, mut error) in failed {
            let mut attempt = 1;
            loop {
                let Some(failure) =
                    RecordFailed::from_terminal(&error).filter(|f| f.index < batch.records.len())
                else {
                    let from = batch
                        .positions
                        .iter()
                        .copied()
                        .min()
                        .unwrap_or(self.lease.from);
                    self.dead_letter(
                        from,
                        self.lease.count,
                        "keyed",
                        error.message().to_owned(),
                        None,
                    );
                    break;
                };
                if attempt >= attempts {
                    let record = batch.records.remove(failure.index);
                    let position = batch.positions.remove(failure.index);
                    let error = format!("{} (after {attempt} attempts)", failure.error);
                    self.dead_letter(
                        position,
                        1,
                        "keyed",
                        error,
                        serde_json::to_value(&record).ok(),
                    );
                    attempt = 0;
                    if batch.records.is_empty() {
                        break;
                    }
                }
                attempt += 1;
                match self.call_group(group, &batch.records).await {
                    Ok(records) => {
                        output.extend(records);
                        break;
                    }
                    Err(next) => error = next,
                }
            }
        }
        output
    }

    /// Writes the range's output to the token's sink partition; a write that
    /// fails after its attempts sends the batch to the dead-letter output.
    async fn write(&self, token: Token, output: Vec<D::Out>) {
        let partition = (token.id % u64::from(self.flow.sink_partitions())).to_string();
        // Serialized here: a failure inside the SDK would be retried forever.
        let body = match serde_json::to_vec(&output) {
            Ok(body) => body,
            Err(e) => {
                let error = format!("cannot serialize the batch for the sink: {e}");
                self.dead_letter(self.lease.from, self.lease.count, "sink", error, None);
                return;
            }
        };
        let written = self
            .ctx
            .request::<_, ()>(
                RequestTarget::object(&self.names.sink, partition, handler::WRITE),
                body,
            )
            .call()
            .await;
        if let Err(e) = written {
            let error = e.message().to_owned();
            self.dead_letter(self.lease.from, self.lease.count, "sink", error, None);
        }
    }
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
        tokens_in_flight: control
            .injected
            .saturating_sub(control.parked + control.halted),
        records_in,
        records_out,
        dead_letters: control.dead_letters,
        bounded,
        finished: (bounded || control.stopped)
            && exhausted
            && control.injected > 0
            && control.parked + control.halted == control.injected,
        stopped: control.stopped,
        halted: control.halted,
        conflict: control.conflict,
    }))
}
