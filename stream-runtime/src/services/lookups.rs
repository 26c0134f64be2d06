//! An enrichment stage's lookups, made by its key group through the SDK:
//! Restate calls as journaled invocations with an idempotency key, at
//! most `in_flight` at once, taken as they answer (the SDK journals
//! which answered first); HTTP calls `in_flight` at a time, each group of
//! them one journaled `ctx.run` (`lookup/http.rs`). What to call, and what
//! an answer means, is the stage's (`keyed/enrich/mod.rs`).

use bytes::Bytes;
use restate_sdk::context::{DurableFuturesUnordered, RequestTarget};
use restate_sdk::errors::{HandlerResult, TerminalError};
use restate_sdk::prelude::*;

use crate::lookup::http::{fetch_all, Fetch};
use crate::lookup::{Answered, Enrich, Order, Planned, Target};

/// A Restate call to make: its plan index, target, body and key.
struct Invoke {
    index: usize,
    target: RequestTarget,
    described: String,
    body: Bytes,
    key: String,
}

/// Makes the batch's lookups; answers each with the records it answers,
/// in the order they answered (in plan order when ordered). `stage`, the
/// keyed stage's service name, prefixes each idempotency key.
pub(super) async fn look_up(
    ctx: &ObjectContext<'_>,
    stage: &str,
    planned: Vec<Planned>,
    options: &Enrich,
) -> HandlerResult<Vec<(Vec<usize>, Answered)>> {
    let mut records: Vec<Vec<usize>> = Vec::with_capacity(planned.len());
    let mut answered: Vec<(usize, Answered)> = Vec::new();
    let (mut invokes, mut fetches) = (Vec::new(), Vec::new());
    for (index, plan) in planned.into_iter().enumerate() {
        records.push(plan.records);
        let key = format!("{stage}/{}", plan.id);
        let body = match plan.call.body {
            Ok(body) => body,
            Err(reason) => {
                answered.push((index, Err(reason)));
                continue;
            }
        };
        let described = plan.call.target.to_string();
        let target = match plan.call.target {
            Target::Http { url, post } => {
                let body = post.then(|| Bytes::from(body.to_string()));
                fetches.push(Fetch {
                    index,
                    url,
                    body,
                    key,
                });
                continue;
            }
            Target::Service { service, handler } => RequestTarget::service(service, handler),
            Target::Object {
                object,
                key: object_key,
                handler,
            } => RequestTarget::object(object, object_key, handler),
        };
        invokes.push(Invoke {
            index,
            target,
            described,
            body: Bytes::from(body.to_string()),
            key,
        });
    }
    answered.extend(invoke_all(ctx, invokes, options.in_flight).await?);
    // One run per `in_flight` fetches: a run is bounded by one fetch's
    // attempts, well inside Restate's inactivity timeout, and a crash
    // repeats at most the run it cut off.
    let mut fetches = fetches.into_iter().peekable();
    while fetches.peek().is_some() {
        let chunk: Vec<Fetch> = fetches.by_ref().take(options.in_flight).collect();
        let options = options.clone();
        let Json(fetched) = ctx
            .run(|| async move { Ok(Json(fetch_all(chunk, &options).await)) })
            .name("lookups")
            .await?;
        answered.extend(fetched);
    }
    if options.order == Order::Ordered {
        answered.sort_by_key(|(index, _)| *index);
    }
    let answered = answered
        .into_iter()
        .map(|(index, answer)| (std::mem::take(&mut records[index]), answer));
    Ok(answered.collect())
}

/// The Restate calls, at most `in_flight` at once, taken as they answer.
/// A cancelled invocation fails here, as it must, rather than answering
/// its calls as failed.
async fn invoke_all(
    ctx: &ObjectContext<'_>,
    invokes: Vec<Invoke>,
    in_flight: usize,
) -> HandlerResult<Vec<(usize, Answered)>> {
    let mut answered = Vec::new();
    let mut flying = DurableFuturesUnordered::new();
    let mut named: Vec<(usize, String)> = Vec::new();
    let mut invokes = invokes.into_iter();
    loop {
        while flying.len() < in_flight {
            let Some(invoke) = invokes.next() else { break };
            let call = ctx
                .request::<Bytes, Bytes>(invoke.target, invoke.body)
                .idempotency_key(invoke.key)
                .call();
            // `push` answers the call's index, the count pushed before it.
            flying.push(call);
            named.push((invoke.index, invoke.described));
        }
        let Some((at, result)) = flying.next().await? else {
            break;
        };
        let (index, described) = &named[at];
        answered.push((*index, answer(described, result)));
    }
    Ok(answered)
}

/// A call's answer as JSON (empty: `null`), or why it failed.
fn answer(target: &str, result: Result<Bytes, TerminalError>) -> Answered {
    match result {
        Ok(bytes) if bytes.is_empty() => Ok(serde_json::Value::Null),
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("{target} answered no JSON: {e}"))
        }
        Err(error) => Err(format!(
            "{target} failed: {} (code {})",
            error.message(),
            error.code()
        )),
    }
}
