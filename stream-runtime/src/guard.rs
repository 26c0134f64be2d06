//! Running user code so that a panic fails one record, not the stream.

use std::panic::{catch_unwind, AssertUnwindSafe};

use restate_sdk::errors::TerminalError;
use serde::{Deserialize, Serialize};

/// Runs `f`, turning a panic into an error message. User functions are
/// required to be deterministic, so a panic is a property of the record.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => Err(panic_message(panic.as_ref())),
    }
}

/// Runs `future`, turning a panic while it is polled into an error message
/// (a user's `async` sink or source).
pub(crate) async fn guarded_future<T>(
    future: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => std::task::Poll::Ready(Err(panic_message(panic.as_ref()))),
        },
    )
    .await
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_owned());
    format!("panicked: {message}")
}

/// The HTTP code of a keyed call that failed on one record.
const RECORD_FAILED: u16 = 422;

/// A keyed call's report that record `index` of its batch failed. Carried
/// as a terminal error, so the group wrote no state and the caller can
/// retry the call or drop the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordFailed {
    /// The record's index in the key group's batch.
    pub index: usize,
    /// Why it failed.
    pub error: String,
}

impl RecordFailed {
    pub(crate) fn into_terminal(self) -> TerminalError {
        let message = serde_json::to_string(&self).unwrap_or_else(|_| self.error.clone());
        TerminalError::new_with_code(RECORD_FAILED, message)
    }

    pub(crate) fn from_terminal(error: &TerminalError) -> Option<Self> {
        (error.code() == RECORD_FAILED)
            .then(|| serde_json::from_str(error.message()).ok())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let result: Result<(), String> = guarded(|| panic!("bad record {}", 7));
        std::panic::set_hook(quiet);
        assert_eq!(result, Err("panicked: bad record 7".to_owned()));
        assert_eq!(guarded(|| Ok::<_, String>(1)), Ok(1));
    }

    #[test]
    fn record_failures_round_trip_through_terminal_errors() {
        let failure = RecordFailed {
            index: 3,
            error: "boom".into(),
        };
        let back = RecordFailed::from_terminal(&failure.into_terminal()).expect("decodes");
        assert_eq!((back.index, back.error.as_str()), (3, "boom"));
        assert!(RecordFailed::from_terminal(&TerminalError::new("other")).is_none());
    }
}
