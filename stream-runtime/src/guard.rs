//! Running user code so that a panic fails one record, not the stream.

use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::{Deserialize, Serialize};

/// A user function's panic: the stage fails the one record (or timer) it
/// panicked on, not the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("panicked: {0}")]
pub struct Panicked(pub String);

/// Stored keyed state that does not decode as the type asked for.
#[derive(Debug, Clone, thiserror::Error)]
#[error("keyed state `{name}` does not decode as `{type_name}`: {reason}")]
pub struct StateError {
    /// The state's name, as given to `ProcessContext::value` or `ProcessContext::reducing`.
    pub name: String,
    /// The Rust type it was read as.
    pub type_name: &'static str,
    /// Why decoding failed.
    pub reason: String,
}

/// Why a stage failed on a record or a timer.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// A user function panicked.
    #[error(transparent)]
    Panicked(#[from] Panicked),
    /// A state entry did not decode as its type, or did not encode.
    #[error(transparent)]
    State(#[from] StateError),
    /// The record's key did not encode as JSON.
    #[error("cannot encode the record's key: {0}")]
    Key(#[from] serde_json::Error),
}

/// A panic in a sink's write fails the write, as an I/O error does.
impl From<Panicked> for std::io::Error {
    fn from(panicked: Panicked) -> Self {
        std::io::Error::other(panicked)
    }
}

/// Runs `f`, turning a panic into an error. User functions are required to
/// be deterministic, so a panic is a property of the record.
pub(crate) fn guarded<T, E: From<Panicked>>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => Err(panic_message(panic.as_ref()).into()),
    }
}

/// Runs `future`, turning a panic while it is polled into an error (a
/// user's `async` sink or source).
pub(crate) async fn guarded_future<T, E: From<Panicked>>(
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => std::task::Poll::Ready(Err(panic_message(panic.as_ref()).into())),
        },
    )
    .await
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> Panicked {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_owned());
    Panicked(message)
}

/// A call's report that record `index` of its batch failed: a user
/// function panicked on it, its state did not decode, or the sink rejected
/// it. A key group's call wrote nothing, a sink's wrote the records
/// before it; its caller retries it or sends the record to the
/// dead-letter output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordFailed {
    /// The record's index in the call's batch.
    pub index: usize,
    /// Why it failed.
    pub error: String,
}

impl RecordFailed {
    /// Record `index` failed for `error`.
    pub(crate) fn new(index: usize, error: impl std::fmt::Display) -> Self {
        let error = error.to_string();
        Self { index, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let result: Result<(), Panicked> = guarded(|| panic!("bad record {}", 7));
        std::panic::set_hook(quiet);
        let error = result.expect_err("the panic is an error");
        assert_eq!(error.to_string(), "panicked: bad record 7");
        assert_eq!(guarded(|| Ok::<_, Panicked>(1)), Ok(1));
    }
}
