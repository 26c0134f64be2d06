//! What the runner's page shows of a pipeline, in one answer of the
//! public `{name}Source/overview` handler: its status, each split's
//! progress and watermark, and its dead letters; and what `replay`
//! answers.

use serde::{Deserialize, Serialize};

use super::{DeadLetter, Status};
use crate::time::Millis;

/// A pipeline's status with its splits and dead letters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// What `status` answers.
    pub status: Status,
    /// Tokens that found every split exhausted and parked.
    pub tokens_parked: u64,
    /// Each split's progress.
    pub splits: Vec<SplitOverview>,
    /// The dead letters not yet replayed, oldest first (at most
    /// [`LISTED_DEAD_LETTERS`], the newest).
    pub dead_letters: Vec<ListedDeadLetter>,
    /// Dead letters replayed so far.
    pub replayed: u64,
}

/// The most dead letters an [`Overview`] lists.
pub const LISTED_DEAD_LETTERS: u64 = 200;

/// One split's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitOverview {
    /// The split.
    pub split: u32,
    /// The next position it leases.
    pub position: u64,
    /// Where it ends now: a Kafka partition's end offset, a bounded
    /// split's end; `None` for a split with no end to tell.
    pub end: Option<u64>,
    /// Whether it leases nothing more.
    pub exhausted: bool,
    /// Its own watermark: the largest event time of its ranges done, less
    /// the allowed delay, less 1 (event-time pipelines).
    pub watermark: Option<Millis>,
    /// No data for the idle timeout: it holds no watermark back.
    pub idle: bool,
}

/// A dead letter as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedDeadLetter {
    /// Its number, which `replay` takes.
    pub id: u64,
    /// The source split it was read from.
    pub split: u32,
    /// Its source position (the range's first).
    pub position: u64,
    /// How many positions it covers.
    pub count: u32,
    /// Where it failed, in words.
    pub stage: String,
    /// Why.
    pub error: String,
    /// The record, when there is one.
    pub record: Option<serde_json::Value>,
    /// Whether the record is too long to list whole: `record` is then a
    /// preview, as a string.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub record_cut: bool,
    /// Whether `replay` can send it in again; why not otherwise.
    pub replayable: bool,
    /// Why it cannot be replayed, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_replayable: Option<String>,
}

impl ListedDeadLetter {
    /// The letter with its record cut to a preview when it encodes to more
    /// than `bytes`.
    pub(crate) fn cut(mut self, bytes: usize) -> Self {
        let text = self
            .record
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_default();
        if text.len() > bytes {
            let end = (0..=bytes.min(512))
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            let preview = format!("{}… ({} bytes)", &text[..end], text.len());
            self.record = Some(serde_json::Value::String(preview));
            self.record_cut = true;
        }
        self
    }

    pub(crate) fn new(id: u64, letter: DeadLetter) -> Self {
        let why = letter.replayable().err().map(str::to_owned);
        Self {
            id,
            split: letter.split,
            position: letter.position,
            count: letter.count,
            stage: letter.stage.to_string(),
            error: letter.error,
            record: letter.record,
            record_cut: false,
            replayable: why.is_none(),
            not_replayable: why,
        }
    }
}

/// What `replay` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayed {
    /// The letters sent in again, by id.
    pub replayed: Vec<u64>,
    /// Those that failed again, by id: each is a new dead letter.
    pub failed_again: Vec<u64>,
}

/// Which dead letters `replay` sends in again: one by id, or all that can
/// be (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayRequest {
    /// The letter, or `None` for all.
    #[serde(default)]
    pub id: Option<u64>,
}
