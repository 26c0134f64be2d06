//! Running user code so that a panic fails one record, not the stream.

use std::panic::{catch_unwind, AssertUnwindSafe};

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

/// A call's report that record `index` of its batch failed: a user
/// function panicked on it, its state did not decode, or the sink rejected
/// it. The call wrote nothing, and its caller retries it or drops the
/// record (see `BatchAnswer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordFailed {
    /// The record's index in the key group's batch.
    pub index: usize,
    /// Why it failed.
    pub error: String,
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
}
