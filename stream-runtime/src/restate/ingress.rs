//! The Restate ingress: calling a pipeline's public handlers.

use super::http::{api_client, ApiError};
use crate::names::ServiceNames;
use crate::protocol::handlers::{ingest, source};
use crate::protocol::overview::{Overview, ReplayRequest, Replayed};
use crate::protocol::{Appended, Handler, PushBatch, Status, TokensAdded};

/// Why an ingress call failed (the same type as [`AdminError`](super::AdminError)).
pub type CallError = ApiError;

api_client! {
    /// A client for a Restate server's ingress (port 8080 by default): a
    /// pipeline's public handlers, as `curl …/{name}Source/addTokens` calls
    /// them.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), stream_runtime::restate::CallError> {
    /// use stream_runtime::restate::IngressClient;
    /// use stream_runtime::ServiceNames;
    ///
    /// let ingress = IngressClient::new("http://localhost:8080");
    /// let word_count = ServiceNames::for_pipeline("ContinuousWordCount");
    /// ingress.add_tokens(&word_count, 10).await?;
    /// let status = ingress.status(&word_count).await?;
    /// println!("{} records in, {} out", status.records_in, status.records_out);
    /// # Ok(())
    /// # }
    /// ```
    pub struct IngressClient for "ingress" at "http://localhost:8080", health "/restate/health";
}

impl IngressClient {
    /// Calls `service/handler` with a raw body and returns the raw answer.
    pub async fn call_raw(
        &self,
        service: &str,
        handler: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, CallError> {
        let target = format!("{service}/{handler}");
        let answer = self
            .http
            .post_ok(&format!("/{target}"), body.to_vec(), &target)
            .await?;
        Ok(answer.to_vec())
    }

    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        service: &str,
        handler: &str,
        body: &[u8],
    ) -> Result<T, CallError> {
        let target = format!("{service}/{handler}");
        self.http
            .post_json(&format!("/{target}"), body.to_vec(), &target)
            .await
    }

    /// Injects `n` tokens into a pipeline (`{name}Source/addTokens`).
    pub async fn add_tokens(
        &self,
        pipeline: &ServiceNames,
        n: u64,
    ) -> Result<TokensAdded, CallError> {
        self.call_json(
            &pipeline.source,
            source::AddTokens::NAME,
            n.to_string().as_bytes(),
        )
        .await
    }

    /// Stops a pipeline (`{name}Source/stop`): its tokens finish the ranges
    /// they hold and park. Answers the status as the stop found it; watch
    /// [`Status::finished`]. `add_tokens` resumes.
    pub async fn stop(&self, pipeline: &ServiceNames) -> Result<Status, CallError> {
        self.call_json(&pipeline.source, source::Stop::NAME, b"")
            .await
    }

    /// A pipeline's status (`{name}Source/status`).
    pub async fn status(&self, pipeline: &ServiceNames) -> Result<Status, CallError> {
        self.call_json(&pipeline.source, source::GetStatus::NAME, b"")
            .await
    }

    /// A pipeline's status with each split's progress and its dead letters
    /// (`{name}Source/overview`): what the runner's page shows.
    pub async fn overview(&self, pipeline: &ServiceNames) -> Result<Overview, CallError> {
        self.call_json(&pipeline.source, source::GetOverview::NAME, b"")
            .await
    }

    /// Pushes a batch of records to a pipeline whose source is
    /// [`Pushed`](crate::source::Pushed) (`{name}Ingest/append`), and
    /// answers where it went once it is durable. Send a batch whose answer
    /// did not come again with the same key: it is appended once. A split
    /// that holds too much unread answers 429, with the wait that
    /// [`ApiError::retry_after`](super::ApiError::retry_after) reads.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), stream_runtime::restate::CallError> {
    /// use stream_runtime::restate::IngressClient;
    /// use stream_runtime::{PushBatch, ServiceNames};
    ///
    /// let ingress = IngressClient::new("http://localhost:8080");
    /// let batch = PushBatch {
    ///     key: "lines-1".to_owned(),
    ///     records: vec!["to be or not to be".into()],
    ///     split: None,
    /// };
    /// let appended = ingress.append(&ServiceNames::for_pipeline("WordCount"), &batch).await?;
    /// println!("at {} of split {}", appended.first, appended.split);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn append(
        &self,
        pipeline: &ServiceNames,
        batch: &PushBatch,
    ) -> Result<Appended, CallError> {
        let body = serde_json::to_vec(batch).map_err(|e| CallError::Decode {
            what: format!("{}/{}", pipeline.ingest, ingest::Append::NAME),
            reason: e.to_string(),
        })?;
        self.call_json(&pipeline.ingest, ingest::Append::NAME, &body)
            .await
    }

    /// Sends dead letter `id` in again at the stage it failed at, or every
    /// one that can be with `None` (`{name}Source/replay`). A letter not in
    /// the list is a 404, one that cannot be replayed a 409.
    pub async fn replay(
        &self,
        pipeline: &ServiceNames,
        id: Option<u64>,
    ) -> Result<Replayed, CallError> {
        let body = serde_json::to_vec(&ReplayRequest { id }).unwrap_or_default();
        self.call_json(&pipeline.source, source::Replay::NAME, &body)
            .await
    }
}
