//! A sink's answer that one record of a batch can never be written.

use std::io;

/// The error a [`Sink`](super::Sink) returns when one record of a batch
/// can never be written, as a database refuses a row that breaks a
/// constraint. The runtime then calls `write` again, in the same call of
/// the sink partition and from the same committed offset, with the
/// records before it alone (what the rejected write left from the record
/// on must be discarded, or recognised as landed, by that write, as for
/// any retried write: a Kafka topic whose write landed request by request
/// holds those before it, and skips them), and commits them; the record
/// goes to the dead-letter output with the reason, and the records after
/// it are written in a write of their own. No retries are spent on it.
///
/// ```
/// use stream_runtime::sink::Rejected;
///
/// fn check(batch: &[i64]) -> std::io::Result<()> {
///     match batch.iter().position(|n| *n < 0) {
///         Some(index) => Err(Rejected::new(index, "negative amounts are refused").into()),
///         None => Ok(()),
///     }
/// }
///
/// let error = check(&[3, -1, 4]).unwrap_err();
/// assert_eq!(Rejected::find(&error).map(|r| r.index), Some(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {index} of the batch was rejected: {reason}")]
pub struct Rejected {
    /// The record's index in the batch given to `write`.
    pub index: usize,
    /// Why, as the dead letter will say.
    pub reason: String,
}

impl Rejected {
    /// Record `index` of the batch, refused for `reason`.
    pub fn new(index: usize, reason: impl Into<String>) -> Self {
        Self {
            index,
            reason: reason.into(),
        }
    }

    /// The rejection an I/O error carries, if it is one.
    pub fn find(error: &io::Error) -> Option<&Rejected> {
        error.get_ref()?.downcast_ref()
    }
}

impl From<Rejected> for io::Error {
    fn from(rejected: Rejected) -> Self {
        io::Error::other(rejected)
    }
}
