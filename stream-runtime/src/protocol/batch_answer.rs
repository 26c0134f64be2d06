//! The answer of a call over a batch in which one record can fail alone.

use restate_sdk::errors::TerminalError;
use serde::{Deserialize, Serialize};

use super::{CodecError, Message};
use crate::guard::RecordFailed;

/// What `keyed::Process` and `sink::Write` answer: their output, or the
/// record of the batch that failed and why. A call that answers
/// `RecordFailed` wrote nothing, and its caller calls again without the
/// record or after another attempt; a sink partition that answers
/// `WroteBefore` wrote and committed the records before it, and its
/// caller writes those after it.
///
/// `Done` is sent as the output alone, as it was before this type, so a
/// caller of an earlier version reads it; `RecordFailed` is a JSON object
/// `{"record_failed": {"index": .., "error": ..}}`, and `WroteBefore` the
/// same with `"wrote_before": true` after it, which a caller of an earlier
/// version refuses to decode (it would take the records before as
/// unwritten and write them again): it dead-letters the batch instead.
#[derive(Debug)]
pub(crate) enum BatchAnswer<T> {
    /// Every record went through.
    Done(T),
    /// Record `index` failed; nothing was written.
    RecordFailed(RecordFailed),
    /// Record `index` was rejected; the records before it were written
    /// and committed (a sink partition's answer).
    WroteBefore(RecordFailed),
}

/// How a record failure crosses the wire.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailedBody {
    record_failed: RecordFailed,
    /// Whether the records before it were written (after `record_failed`,
    /// which every failure's bytes begin with).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    wrote_before: bool,
}

/// How every failure's bytes begin: an output never does (a key group's
/// is `{"out":…}`, the sink's is empty).
const FAILED_PREFIX: &[u8] = br#"{"record_failed":"#;

/// The code with which endpoints before [`BatchAnswer`] raised a record's
/// failure, its JSON as the message. A journal written by one can still
/// hold such an error when a newer endpoint replays it.
const EARLIER_RECORD_FAILED: u16 = 422;

impl<T: Message> Message for BatchAnswer<T> {
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Done(output) => output.encode(),
            Self::RecordFailed(failed) => Ok(serde_json::to_vec(&FailedBody {
                record_failed: failed.clone(),
                wrote_before: false,
            })?),
            Self::WroteBefore(failed) => Ok(serde_json::to_vec(&FailedBody {
                record_failed: failed.clone(),
                wrote_before: true,
            })?),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.starts_with(FAILED_PREFIX) {
            let body: FailedBody = serde_json::from_slice(bytes)?;
            return Ok(match body.wrote_before {
                true => Self::WroteBefore(body.record_failed),
                false => Self::RecordFailed(body.record_failed),
            });
        }
        T::decode(bytes).map(Self::Done)
    }

    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Done(output) => output.into_bytes(),
            failed => failed.encode(),
        }
    }
}

/// Why a call over a batch gave no output.
#[derive(Debug)]
pub(crate) enum BatchFailed {
    /// One record failed; the call wrote nothing.
    Record(RecordFailed),
    /// One record was rejected; the call wrote the records before it.
    WroteBefore(RecordFailed),
    /// The call itself failed (or its answer did not decode).
    Call(TerminalError),
}

impl BatchFailed {
    /// The record that failed, if it is one of the `len` records sent.
    pub(crate) fn record(&self, len: usize) -> Option<&RecordFailed> {
        match self {
            Self::Record(failed) | Self::WroteBefore(failed) if failed.index < len => Some(failed),
            _ => None,
        }
    }

    /// Whether the call wrote the records before the one that failed.
    pub(crate) fn wrote_before(&self) -> bool {
        matches!(self, Self::WroteBefore(_))
    }

    /// Why, in words.
    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Record(failed) | Self::WroteBefore(failed) => &failed.error,
            Self::Call(error) => error.message(),
        }
    }
}

impl<T> BatchAnswer<T> {
    /// A call's answer as a result: its output, or why there is none.
    pub(crate) fn settle(answer: Result<Self, TerminalError>) -> Result<T, BatchFailed> {
        match answer {
            Ok(Self::Done(output)) => Ok(output),
            Ok(Self::RecordFailed(failed)) => Err(BatchFailed::Record(failed)),
            Ok(Self::WroteBefore(failed)) => Err(BatchFailed::WroteBefore(failed)),
            Err(error) => Err(earlier_record_failed(&error)
                .map(BatchFailed::Record)
                .unwrap_or(BatchFailed::Call(error))),
        }
    }
}

/// A record's failure as an endpoint before [`BatchAnswer`] raised it.
fn earlier_record_failed(error: &TerminalError) -> Option<RecordFailed> {
    (error.code() == EARLIER_RECORD_FAILED)
        .then(|| serde_json::from_str(error.message()).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_is_the_output_alone_and_a_failure_is_told_apart_from_it() {
        let done = BatchAnswer::Done(vec![1u64, 2]).encode().unwrap();
        assert_eq!(done, b"[1,2]");
        let failed = RecordFailed {
            index: 1,
            error: "panicked: boom".into(),
        };
        let bytes = BatchAnswer::<Vec<u64>>::RecordFailed(failed)
            .encode()
            .unwrap();
        match BatchAnswer::<Vec<u64>>::decode(&bytes).unwrap() {
            BatchAnswer::RecordFailed(failed) => assert_eq!(failed.index, 1),
            other => panic!("{other:?}"),
        }
        // An empty output (the sink's) is `Done` too.
        assert!(matches!(
            BatchAnswer::<()>::decode(b""),
            Ok(BatchAnswer::Done(()))
        ));
    }

    #[test]
    fn a_sinks_rejection_after_writing_is_refused_by_an_earlier_caller() {
        let failed = RecordFailed {
            index: 3,
            error: "too large".into(),
        };
        let bytes = BatchAnswer::<()>::WroteBefore(failed.clone())
            .encode()
            .unwrap();
        assert!(bytes.starts_with(FAILED_PREFIX));
        match BatchAnswer::<()>::settle(
            BatchAnswer::decode(&bytes).map_err(|e| TerminalError::new(e.to_string())),
        ) {
            Err(failure @ BatchFailed::WroteBefore(_)) => {
                assert!(failure.wrote_before());
                assert_eq!(failure.record(4).map(|f| f.index), Some(3));
            }
            other => panic!("{other:?}"),
        }
        // A caller of an earlier version decoded the body as this, and
        // would have written the records before it again.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Earlier {
            record_failed: RecordFailed,
        }
        assert!(serde_json::from_slice::<Earlier>(&bytes).is_err());
        let nothing_written = BatchAnswer::<()>::RecordFailed(failed).encode().unwrap();
        assert!(serde_json::from_slice::<Earlier>(&nothing_written).is_ok());
    }

    #[test]
    fn a_failure_raised_by_an_earlier_endpoint_still_names_its_record() {
        let earlier = TerminalError::new_with_code(422, r#"{"index":2,"error":"boom"}"#);
        match BatchAnswer::<()>::settle(Err(earlier)) {
            Err(BatchFailed::Record(failed)) => assert_eq!(failed.index, 2),
            other => panic!("{other:?}"),
        }
        let other = TerminalError::new_with_code(500, "disk full");
        assert!(matches!(
            BatchAnswer::<()>::settle(Err(other)),
            Err(BatchFailed::Call(_))
        ));
    }
}
