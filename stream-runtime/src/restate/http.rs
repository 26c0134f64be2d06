//! A small HTTP/1.1 JSON client over hyper, enough for the admin API and
//! the ingress.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A request that did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not one we can send to.
    #[error("invalid URL `{url}`: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connecting or sending failed.
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// No answer in time.
    #[error("request to {url} timed out after {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        timeout: Duration,
    },
}

/// Why a request to a Restate API (admin or ingress) failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The server answered with an error status.
    #[error("{what} answered HTTP {status}: {body}")]
    Status {
        /// What was asked (`service/handler`, `query …`, `registering …`).
        what: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        body: String,
    },
    /// The answer did not decode as the API documents.
    #[error("{what}: cannot decode the answer: {reason}")]
    Decode {
        /// What was asked.
        what: String,
        /// Why it does not decode.
        reason: String,
    },
}

impl ApiError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// For a 429 of a pushed source's `append`: how long to wait before
    /// sending the batch again, as the answer says (`retry after N ms`).
    ///
    /// ```
    /// use stream_runtime::restate::ApiError;
    /// use std::time::Duration;
    ///
    /// let full = ApiError::Status {
    ///     what: "WordCountIngest/append".into(),
    ///     status: 429,
    ///     body: "split 0 holds 9 records unread …: retry after 250 ms".into(),
    /// };
    /// assert_eq!(full.retry_after(), Some(Duration::from_millis(250)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        let ApiError::Status {
            status: 429, body, ..
        } = self
        else {
            return None;
        };
        let (_, after) = body.split_once("retry after ")?;
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok().map(Duration::from_millis)
    }
}

/// An answer: status and body.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP/1 client for one API of a Restate server, at its base URL.
#[derive(Clone)]
pub(crate) struct HttpClient {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl HttpClient {
    /// A client for the API at `base` (a trailing `/` is dropped), whose
    /// requests time out after a minute.
    pub fn at(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            timeout: Duration::from_secs(60),
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Whether `path` (such as `/health`) answers a GET with a success status.
    pub async fn answers(&self, path: &str) -> bool {
        let url = format!("{}{path}", self.base);
        matches!(self.send(Method::GET, &url, None).await, Ok(r) if r.status.is_success())
    }

    /// POSTs `body` to `path` and returns the answer's body if its status
    /// is a success.
    pub async fn post_ok(
        &self,
        path: &str,
        body: impl Into<Bytes>,
        what: &str,
    ) -> Result<Bytes, ApiError> {
        self.ok(Method::POST, path, Some(body.into()), what).await
    }

    /// PATCHes `path` with no body and returns the answer's body if its
    /// status is a success.
    pub async fn patch_ok(&self, path: &str, what: &str) -> Result<Bytes, ApiError> {
        self.ok(Method::PATCH, path, None, what).await
    }

    /// DELETEs `path` and returns the answer's body if its status is a
    /// success.
    pub async fn delete_ok(&self, path: &str, what: &str) -> Result<Bytes, ApiError> {
        self.ok(Method::DELETE, path, None, what).await
    }

    async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        what: &str,
    ) -> Result<Bytes, ApiError> {
        let url = format!("{}{path}", self.base);
        let response = self.send(method, &url, body).await?;
        if response.status.is_success() {
            Ok(response.body)
        } else {
            Err(ApiError::Status {
                what: what.to_owned(),
                status: response.status.as_u16(),
                body: response.text(),
            })
        }
    }

    /// POSTs `body` to `path` and decodes a successful answer as JSON.
    pub async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: impl Into<Bytes>,
        what: &str,
    ) -> Result<T, ApiError> {
        let answer = self.post_ok(path, body, what).await?;
        serde_json::from_slice(&answer).map_err(|e| ApiError::Decode {
            what: what.to_owned(),
            reason: e.to_string(),
        })
    }

    /// A client for absolute URLs whose requests time out after `timeout`.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::at("")
        }
    }

    /// GETs `url` (with no `body`) or POSTs `body` to it as JSON, with the
    /// `Idempotency-Key` header `key`.
    pub async fn exchange(
        &self,
        url: &str,
        body: Option<Bytes>,
        key: &str,
    ) -> Result<Response, HttpError> {
        let method = match body {
            Some(_) => Method::POST,
            None => Method::GET,
        };
        self.send_with(method, url, body, Some(key)).await
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
    ) -> Result<Response, HttpError> {
        self.send_with(method, url, body, None).await
    }

    async fn send_with(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
        idempotency_key: Option<&str>,
    ) -> Result<Response, HttpError> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header("accept", "application/json");
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        if body.as_ref().is_some_and(|b| !b.is_empty()) {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| HttpError::Url {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let transport = |e: &dyn std::fmt::Display| HttpError::Transport {
            url: url.to_owned(),
            reason: e.to_string(),
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| transport(&e))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(&e))?
                .to_bytes();
            Ok(Response { status, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout {
                url: url.to_owned(),
                timeout: self.timeout,
            })?
    }
}

/// Declares the client of one of a Restate server's HTTP APIs: a struct
/// over an [`HttpClient`], with the `new`, `url` and `is_healthy` that
/// every such client has. Each API's own calls go in an `impl` beside it.
macro_rules! api_client {
    (
        $(#[$meta:meta])*
        pub struct $client:ident for $api:literal at $example:literal, health $health:literal;
    ) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $client {
            pub(super) http: $crate::restate::http::HttpClient,
        }

        impl $client {
            #[doc = concat!("A client for the ", $api, " at `base` (such as `", $example, "`).")]
            pub fn new(base: impl Into<String>) -> Self {
                let http = $crate::restate::http::HttpClient::at(base);
                Self { http }
            }

            #[doc = concat!("The ", $api, "'s base URL.")]
            pub fn url(&self) -> &str {
                self.http.url()
            }

            #[doc = concat!("Whether the ", $api, " answers its health check (`", $health, "`).")]
            pub async fn is_healthy(&self) -> bool {
                self.http.answers($health).await
            }
        }
    };
}
pub(super) use api_client;
