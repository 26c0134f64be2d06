//! The Restate admin API: health, registration, SQL introspection.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::http::{HttpClient, HttpError};

/// A client for a Restate server's admin API (port 9070 by default).
#[derive(Clone)]
pub struct AdminClient {
    base: String,
    http: HttpClient,
}

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No answer.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The server answered with an error.
    #[error("{what} failed with HTTP {status}: {body}")]
    Status {
        /// What was asked.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        body: String,
    },
    /// The answer was not what the API documents.
    #[error("{what}: unexpected answer: {reason}")]
    Decode {
        /// What was asked.
        what: String,
        /// Why it does not decode.
        reason: String,
    },
}

impl AdminClient {
    /// A client for the admin API at `base` (such as `http://localhost:9070`).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http: HttpClient::new(Duration::from_secs(60)),
        }
    }

    /// The admin API's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Whether the admin API answers its health check.
    pub async fn is_healthy(&self) -> bool {
        matches!(self.http.get(&format!("{}/health", self.base)).await, Ok(r) if r.status.is_success())
    }

    /// Registers (or re-registers) the deployment at `endpoint_uri`, as
    /// `restate deployments register <uri> --force` does.
    pub async fn register(&self, endpoint_uri: &str) -> Result<(), AdminError> {
        let body = serde_json::json!({ "uri": endpoint_uri, "force": true }).to_string();
        let response = self
            .http
            .post(&format!("{}/deployments", self.base), body)
            .await?;
        if response.status.is_success() {
            Ok(())
        } else {
            Err(AdminError::Status {
                what: format!("registering {endpoint_uri}"),
                status: response.status.as_u16(),
                body: response.text(),
            })
        }
    }

    /// Runs a SQL query over the server's introspection tables
    /// (`sys_invocation`, `state`, …) and decodes each row.
    pub async fn query<Row: DeserializeOwned>(&self, sql: &str) -> Result<Vec<Row>, AdminError> {
        #[derive(Deserialize)]
        struct Rows<Row> {
            rows: Vec<Row>,
        }
        let body = serde_json::json!({ "query": sql }).to_string();
        let response = self
            .http
            .post(&format!("{}/query", self.base), body)
            .await?;
        if !response.status.is_success() {
            return Err(AdminError::Status {
                what: format!("query `{sql}`"),
                status: response.status.as_u16(),
                body: response.text(),
            });
        }
        serde_json::from_slice::<Rows<Row>>(&response.body)
            .map(|rows| rows.rows)
            .map_err(|e| AdminError::Decode {
                what: format!("query `{sql}`"),
                reason: e.to_string(),
            })
    }
}
