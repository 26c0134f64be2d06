//! HTTP lookups: at most `in_flight` at once, each tried up to `attempts`
//! times (a 4xx answer but 408 and 429 is not tried again), each attempt
//! cut off after `timeout`. The key group runs each `in_flight` of them in
//! one journaled `ctx.run`, so a replay takes the answers from the
//! journal.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{Answered, Enrich};
use crate::restate::http::HttpClient;

/// One HTTP lookup: its index in the batch's plan, URL, body to POST
/// (`None` for a GET) and idempotency key.
pub(crate) struct Fetch {
    pub index: usize,
    pub url: String,
    pub body: Option<Bytes>,
    pub key: String,
}

/// Makes every fetch and answers each by its index, in the order they
/// answered.
pub(crate) async fn fetch_all(fetches: Vec<Fetch>, options: &Enrich) -> Vec<(usize, Answered)> {
    let client = HttpClient::with_timeout(options.timeout);
    let permits = Arc::new(tokio::sync::Semaphore::new(options.in_flight));
    let attempts = options.attempts;
    let mut running = tokio::task::JoinSet::new();
    for fetch in fetches {
        let (client, permits) = (client.clone(), Arc::clone(&permits));
        running.spawn(async move {
            // Never closed, so a permit always comes.
            let _permit = permits.acquire_owned().await.ok();
            (fetch.index, fetch_one(&client, &fetch, attempts).await)
        });
    }
    let mut answered = Vec::new();
    while let Some(done) = running.join_next().await {
        match done {
            Ok(answer) => answered.push(answer),
            // A fetch that panicked: none does, but were one to, its
            // record would be dead-lettered as unanswered.
            Err(error) => tracing::error!(%error, "an HTTP lookup did not finish"),
        }
    }
    answered
}

/// One fetch, tried up to `attempts` times with a growing pause.
async fn fetch_one(client: &HttpClient, fetch: &Fetch, attempts: u32) -> Answered {
    let mut last = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            let pause = Duration::from_millis(100u64 << attempt.min(6));
            tokio::time::sleep(pause).await;
        }
        match client
            .exchange(&fetch.url, fetch.body.clone(), &fetch.key)
            .await
        {
            Ok(response) if response.status.is_success() => {
                return serde_json::from_slice(&response.body)
                    .map_err(|e| format!("{} answered no JSON: {e}", fetch.url));
            }
            Ok(response) => {
                last = format!(
                    "{} answered {}: {}",
                    fetch.url,
                    response.status.as_u16(),
                    response.text()
                );
                // A request the endpoint refuses is not tried again; one it
                // timed out or throttled is.
                let again = matches!(response.status.as_u16(), 408 | 429);
                if response.status.is_client_error() && !again {
                    return Err(last);
                }
            }
            Err(error) => last = error.to_string(),
        }
    }
    Err(format!("after {attempts} attempts: {last}"))
}
