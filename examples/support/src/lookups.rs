//! What an enrichment stage calls in the integration tests, the chaos run
//! and the bench, with each call counted where it lands: `EnrichCalls`, a
//! Restate Virtual Object keyed by record, and a plain HTTP/1.1 server.
//! An exact run is one in which each record's count is 1.

use std::collections::BTreeMap;
use std::path::Path;
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

/// The object's key for record `n` of pipeline `pipeline`, so that runs
/// on one server count apart.
pub fn object_key(pipeline: &str, n: u64) -> String {
    format!("{pipeline}/{n}")
}

/// Each record's count of calls for pipeline `pipeline`, from the
/// server's state table.
pub async fn restate_calls(
    admin: &AdminClient,
    pipeline: &str,
) -> Result<BTreeMap<u64, u64>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        service_key: String,
        value_utf8: String,
    }
    let rows: Vec<Row> = admin
        .query(&format!(
            "SELECT service_key, value_utf8 FROM state WHERE service_name = 'EnrichCalls' AND key = '{CALLS}' AND service_key LIKE '{pipeline}/%'"
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let n = row.service_key.rsplit('/').next()?.parse().ok()?;
            Some((n, row.value_utf8.trim().parse().unwrap_or(u64::MAX)))
        })
        .collect())
}

/// What an enriched run must leave: each record `0..records` once in the
/// file as `[n, answer(n)]`, and the object's count of calls for each
/// exactly 1. Answers the results lost, those extra or wrong, and what
/// else is wrong, in words.
pub async fn check_enriched(
    output: &Path,
    admin: &AdminClient,
    pipeline: &str,
    records: u64,
) -> Result<(u64, u64, Vec<String>), String> {
    let text = std::fs::read_to_string(output).map_err(|e| format!("{}: {e}", output.display()))?;
    let mut seen = BTreeMap::<u64, u64>::new();
    let mut duplicated = 0u64;
    for line in text.lines() {
        match serde_json::from_str::<(u64, u64)>(line) {
            Ok((n, got)) if n < records && got == answer(n) => *seen.entry(n).or_default() += 1,
            _ => duplicated += 1,
        }
    }
    duplicated += seen.values().map(|c| c - 1).sum::<u64>();
    let lost = records - seen.len() as u64;
    let mut violations = Vec::new();
    if lost + duplicated > 0 {
        violations.push(format!("{lost} records lost, {duplicated} extra or wrong"));
    }
    let calls = restate_calls(admin, pipeline)
        .await
        .map_err(|e| e.to_string())?;
    let wrong: Vec<String> = (0..records)
        .filter_map(|n| match calls.get(&n) {
            Some(1) => None,
            other => Some(format!("{n}: {other:?}")),
        })
        .collect();
    if !wrong.is_empty() {
        let shown = wrong.iter().take(10).cloned().collect::<Vec<_>>();
        violations.push(format!(
            "{} records were not called exactly once: {}",
            wrong.len(),
            shown.join(", ")
        ));
    }
    Ok((lost, duplicated, violations))
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
