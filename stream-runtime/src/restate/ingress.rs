//! The Restate ingress: calling a pipeline's public handlers.

use std::time::Duration;

use super::http::{HttpClient, HttpError};
use crate::names::{handler, ServiceNames};
use crate::protocol::{Status, TokensAdded};

/// Why an ingress call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The handler answered with an error status.
    #[error("{target} answered HTTP {status}: {body}")]
    Status {
        /// `service/handler`.
        target: String,
        /// The HTTP status.
        status: u16,
        /// The error message.
        body: String,
    },
    /// The answer did not decode.
    #[error("{target}: cannot decode the answer: {reason}")]
    Decode {
        /// `service/handler`.
        target: String,
        /// Why.
        reason: String,
    },
}

impl CallError {
    /// The HTTP status, when the handler answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client for a Restate server's ingress (port 8080 by default).
#[derive(Clone)]
pub struct IngressClient {
    base: String,
    http: HttpClient,
}

impl IngressClient {
    /// A client for the ingress at `base` (such as `http://localhost:8080`).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http: HttpClient::new(Duration::from_secs(60)),
        }
    }

    /// The ingress base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Whether the ingress answers its health check.
    pub async fn is_healthy(&self) -> bool {
        matches!(self.http.get(&format!("{}/restate/health", self.base)).await, Ok(r) if r.status.is_success())
    }

    /// Calls `service/handler` with a raw body and returns the raw answer.
    pub async fn call_raw(
        &self,
        service: &str,
        handler: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, CallError> {
        let target = format!("{service}/{handler}");
        let response = self
            .http
            .post(&format!("{}/{target}", self.base), body.to_vec())
            .await?;
        if response.status.is_success() {
            Ok(response.body.to_vec())
        } else {
            Err(CallError::Status {
                target,
                status: response.status.as_u16(),
                body: response.text(),
            })
        }
    }

    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        service: &str,
        handler: &str,
        body: &[u8],
    ) -> Result<T, CallError> {
        let answer = self.call_raw(service, handler, body).await?;
        serde_json::from_slice(&answer).map_err(|e| CallError::Decode {
            target: format!("{service}/{handler}"),
            reason: e.to_string(),
        })
    }

    /// Injects `n` tokens into a pipeline (`{name}Source/addTokens`).
    pub async fn add_tokens(
        &self,
        pipeline: &ServiceNames,
        n: u64,
    ) -> Result<TokensAdded, CallError> {
        self.call_json(
            &pipeline.source,
            handler::ADD_TOKENS,
            n.to_string().as_bytes(),
        )
        .await
    }

    /// A pipeline's status (`{name}Source/status`).
    pub async fn status(&self, pipeline: &ServiceNames) -> Result<Status, CallError> {
        self.call_json(&pipeline.source, handler::STATUS, b"").await
    }
}
