//! `{name}Ingest`: where producers push records (see
//! [`Pushed`](crate::source::Pushed)). It checks a batch and hands it to
//! the log of the split its key picks (`services/log.rs`), which appends it
//! once per key.

use restate_sdk::errors::{HandlerResult, TerminalError};
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::log::not_pushed;
use super::serve::Serves;
use super::{PipelineService, ServiceHandlers};
use crate::protocol::handlers::{ingest, log, IngestService};
use crate::protocol::{Appended, Calls, PushBatch};
use crate::push::{encoded_len, split_of};
use crate::source::Source;
use crate::stages::Dataflow;

/// The longest idempotency key taken, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 256;

impl<D: Dataflow> ServiceHandlers<D> for IngestService {
    type Handlers = (ingest::Append,);
}

impl<D: Dataflow> PipelineService<IngestService, D> {
    /// The split `batch` goes to, once it is checked whole: a key, a split
    /// that exists and is pushed to, and records that decode as the
    /// source's, none larger than half a call. Anything else is a 400 (404
    /// for a split not pushed to, 413 for a record too large) that says
    /// what, with nothing appended.
    fn check(&self, batch: &PushBatch) -> Result<u32, TerminalError> {
        let flow = &*self.flow;
        let bad = |why: String| TerminalError::new_with_code(400, format!("append: {why}"));
        if batch.key.is_empty() {
            return Err(bad(
                "the batch has no `key`: give each batch a key of its own, \
                            and send it again with the same key if no answer came"
                    .to_owned(),
            ));
        }
        if batch.key.len() > MAX_KEY_BYTES {
            return Err(bad(format!("the key is longer than {MAX_KEY_BYTES} bytes")));
        }
        let source = flow.source();
        let splits = flow.splits();
        let split = match batch.split {
            Some(split) if split >= splits => {
                let last = splits - 1;
                return Err(bad(format!(
                    "there is no split {split}: the splits are 0 to {last}"
                )));
            }
            Some(split) => split,
            None => {
                // Of the splits records are pushed to (a source made of
                // several has others), the one the key hashes to.
                let pushed: Vec<u32> = (0..splits)
                    .filter(|split| source.pushed(*split).is_some_and(|limits| !limits.pulled))
                    .collect();
                let index = split_of(&batch.key, pushed.len() as u32) as usize;
                pushed.get(index).copied().unwrap_or(0)
            }
        };
        if source.pushed(split).is_none_or(|limits| limits.pulled) {
            return Err(not_pushed(flow.name(), split));
        }
        let largest = flow.config().max_call_bytes / 2;
        for (index, record) in batch.records.iter().enumerate() {
            let size = encoded_len(record);
            if size > largest {
                let why = format!(
                    "append: record {index} is {size} bytes encoded, and a pushed record may be \
                     at most {largest} (half the pipeline's `max_call_bytes`)"
                );
                return Err(TerminalError::new_with_code(413, why));
            }
            if let Err(why) = source.decode_pushed(split, record) {
                let shown: String = record.to_string().chars().take(80).collect();
                return Err(bad(format!(
                    "record {index} (`{shown}`) does not decode: {why}"
                )));
            }
        }
        Ok(split)
    }
}

/// Appends a checked batch to its split's log, and answers where it went
/// once it is durable. A 429 from the log (the split holds too much unread)
/// comes back as it is, with how long to wait.
impl<'a, D: Dataflow> Serves<'a, ingest::Append> for PipelineService<IngestService, D> {
    async fn serve(
        &'a self,
        _ctx: Context<'a>,
        calls: RestateCalls<'a>,
        batch: PushBatch,
    ) -> HandlerResult<Appended> {
        let split = self.check(&batch)?;
        let appended = calls
            .call::<log::Append>(split, &batch)
            .map_err(|error| TerminalError::new(error.to_string()))?
            .await?;
        Ok(appended)
    }
}
