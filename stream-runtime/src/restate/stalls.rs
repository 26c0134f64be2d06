//! What a pipeline's `status` cannot see: its invocations that the server
//! is retrying after a failure (backing off), or has stopped retrying
//! (paused). They live in the server, so they are read from
//! `sys_invocation` through the admin API.
//!
//! restate-server pauses an invocation once its retry policy's attempts
//! run out: by default 70, up to a minute apart, so about an hour of an
//! unreachable endpoint. A paused token waits for someone to resume it.
//! The runner does that as soon as it serves the pipeline again (see
//! [`AdminClient::resume_paused`]); without the runner, the one command is
//! `restate invocations resume <pipeline>`, which resumes every invocation
//! of the services named after it.

use serde::Deserialize;

use super::{AdminClient, AdminError};
use crate::names::ServiceNames;

/// A pipeline's invocations that are not running normally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stalled {
    /// The paused invocations' ids, sorted: nothing retries them until
    /// they are resumed.
    pub paused: Vec<String>,
    /// How many invocations are waiting to retry after a failure.
    pub backing_off: u64,
    /// The last failure of one of them, as the server recorded it.
    pub last_failure: Option<String>,
}

impl Stalled {
    /// Whether every invocation runs normally.
    pub fn is_empty(&self) -> bool {
        self.paused.is_empty() && self.backing_off == 0
    }

    /// One line: how many are paused and retrying, and the last failure.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{} paused, {} retrying",
            self.paused.len(),
            self.backing_off
        );
        if let Some(failure) = &self.last_failure {
            let failure: String = failure.chars().take(300).collect();
            line += &format!(" (last failure: {failure})");
        }
        line
    }
}

impl AdminClient {
    /// The pipeline's invocations that are paused or backing off.
    pub async fn stalled(&self, names: &ServiceNames) -> Result<Stalled, AdminError> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
            status: String,
            last_failure: Option<String>,
        }
        // Pipeline names are letters, digits and underscores: safe to quote.
        // The key groups of keyed stages after the first are services of
        // their own (`PKeyed2`, …); a chain longer than 16 is not looked for.
        let later = (1..16).map(|level| names.at_level(level).keyed);
        let services = (names.services().map(str::to_owned).into_iter())
            .chain(later)
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<Row> = self
            .query(&format!(
                "SELECT id, status, last_failure FROM sys_invocation \
                 WHERE target_service_name IN ({services}) \
                 AND status IN ('paused', 'backing-off')"
            ))
            .await?;
        let mut stalled = Stalled::default();
        for row in rows {
            match row.status.as_str() {
                "paused" => stalled.paused.push(row.id),
                _ => stalled.backing_off += 1,
            }
            if row.last_failure.is_some() {
                stalled.last_failure = row.last_failure;
            }
        }
        stalled.paused.sort_unstable();
        // A paused invocation keeps its failures only as journal events.
        if let (None, Some(id)) = (&stalled.last_failure, stalled.paused.first()) {
            stalled.last_failure = self.last_transient_error(id).await?;
        }
        Ok(stalled)
    }

    /// The message of the last transient error recorded in the journal
    /// events of invocation `id`.
    async fn last_transient_error(&self, id: &str) -> Result<Option<String>, AdminError> {
        #[derive(Deserialize)]
        struct Row {
            event_json: String,
        }
        #[derive(Deserialize)]
        struct Event {
            error_message: Option<String>,
        }
        // An invocation id is `inv_` and base62, so safe to quote; anything
        // else is not asked about.
        let base62 = |rest: &str| rest.chars().all(|c| c.is_ascii_alphanumeric());
        if !id.strip_prefix("inv_").is_some_and(base62) {
            return Ok(None);
        }
        let rows: Vec<Row> = self
            .query(&format!(
                "SELECT event_json FROM sys_journal_events \
                 WHERE id = '{id}' AND event_type = 'TransientError' \
                 ORDER BY appended_at DESC LIMIT 1"
            ))
            .await?;
        Ok(rows.first().and_then(|row| {
            serde_json::from_str::<Event>(&row.event_json)
                .ok()?
                .error_message
        }))
    }

    /// Resumes the invocation `id` on the deployment it was pinned to, as
    /// `restate invocations resume <id>` does (a backing-off one retries at
    /// once).
    pub async fn resume(&self, id: &str) -> Result<(), AdminError> {
        let what = format!("resuming invocation {id}");
        self.http
            .patch_ok(&format!("/invocations/{id}/resume"), &what)
            .await
            .map(drop)
    }

    /// Resumes every paused invocation of the pipeline, and answers what
    /// was stalled. Call it once the endpoint serves the pipeline again:
    /// the runner does, every few seconds.
    pub async fn resume_paused(&self, names: &ServiceNames) -> Result<Stalled, AdminError> {
        let stalled = self.stalled(names).await?;
        for id in &stalled.paused {
            self.resume(id).await?;
        }
        Ok(stalled)
    }
}
