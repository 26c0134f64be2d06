//! What an enrichment stage calls in the integration tests, the chaos run
//! and the bench, with each call counted where it lands: `EnrichCalls`, a
//! Restate Virtual Object keyed by record, and a plain HTTP/1.1 server.
//! An exact run is one in which each record's count is 1.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use restate_sdk::prelude::*;
use serde::Deserialize;
use stream_runtime::restate::{AdminClient, ApiError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The answer for record `n`, from either server: `n * 2 + 1`.
pub fn answer(n: u64) -> u64 {
    n * 2 + 1
}

/// A Virtual Object keyed by record: `lookup` answers [`answer`] and
/// counts its invocations in the object's state (`calls`).
pub struct EnrichCalls;

/// The object's state entry that counts the calls.
const CALLS: &str = "calls";

#[restate_sdk::object]
impl EnrichCalls {
    /// The answer for record `n`, counted.
    #[handler]
    async fn lookup(&self, ctx: ObjectContext<'_>, Json(n): Json<u64>) -> HandlerResult<Json<u64>> {
        let calls = ctx.get::<u64>(CALLS).await?.unwrap_or(0);
        ctx.set(CALLS, calls + 1);
        Ok(Json(answer(n)))
    }
}

/// Each record's count of calls, by the object's key, from the server's
/// state table.
pub async fn restate_calls(admin: &AdminClient) -> Result<BTreeMap<String, u64>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        service_key: String,
        value_utf8: String,
    }
    let rows: Vec<Row> = admin
        .query(&format!(
            "SELECT service_key, value_utf8 FROM state WHERE service_name = 'EnrichCalls' AND key = '{CALLS}'"
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.service_key,
                row.value_utf8.trim().parse().unwrap_or(u64::MAX),
            )
        })
        .collect())
}

/// A plain HTTP/1.1 server on loopback answering `GET /answer/{n}` with
/// [`answer`] as JSON, and counting each request per `n` (and per
/// `Idempotency-Key` header).
#[derive(Clone, Default)]
pub struct HttpLookups {
    counts: Arc<Mutex<BTreeMap<u64, u64>>>,
    keys: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl HttpLookups {
    /// Serves on a free port; answers its base URL (`http://127.0.0.1:port`).
    pub async fn start(&self) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let served = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let served = served.clone();
                tokio::spawn(async move { served.answer_one(stream).await });
            }
        });
        Ok(url)
    }

    /// How many requests asked for each `n`.
    pub fn counts(&self) -> BTreeMap<u64, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// How many requests carried each idempotency key.
    pub fn keys(&self) -> BTreeMap<String, u64> {
        self.keys.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Reads one request (its head; lookups are GETs) and answers it,
    /// closing the connection.
    async fn answer_one(&self, mut stream: tokio::net::TcpStream) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split_whitespace().nth(1).unwrap_or("");
        let n = path
            .strip_prefix("/answer/")
            .and_then(|n| n.parse::<u64>().ok());
        let key = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("idempotency-key")
                .then(|| value.trim().to_owned())
        });
        let (status, body) = match n {
            Some(n) => {
                if let Ok(mut counts) = self.counts.lock() {
                    *counts.entry(n).or_default() += 1;
                }
                if let (Some(key), Ok(mut keys)) = (key, self.keys.lock()) {
                    *keys.entry(key).or_default() += 1;
                }
                ("200 OK", answer(n).to_string())
            }
            None => ("404 Not Found", format!("\"no lookup at {path}\"")),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}
