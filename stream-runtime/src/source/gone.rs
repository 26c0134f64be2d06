//! A source's answer that positions it was asked for no longer exist.

use std::io;

/// The error a [`Source`](super::Source) returns when the positions it was
/// asked to read were deleted before the pipeline read them, as Kafka's
/// retention deletes old offsets. The positions from the one asked up to
/// `until` go to the dead-letter output as one letter with the reason,
/// never skipped silently, and the rest of the range is read from `until`.
///
/// ```
/// use stream_runtime::source::Gone;
///
/// let error: std::io::Error = Gone::new(120, "deleted by retention").into();
/// assert_eq!(Gone::find(&error).map(|g| g.until), Some(120));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the positions before {until} are gone: {reason}")]
pub struct Gone {
    /// The first position that still exists.
    pub until: u64,
    /// Why, as the dead letter will say.
    pub reason: String,
}

impl Gone {
    /// Every position before `until` is gone, for `reason`.
    pub fn new(until: u64, reason: impl Into<String>) -> Self {
        Self {
            until,
            reason: reason.into(),
        }
    }

    /// The gap an I/O error reports, if it is one.
    pub fn find(error: &io::Error) -> Option<&Gone> {
        error.get_ref()?.downcast_ref()
    }
}

impl From<Gone> for io::Error {
    fn from(gone: Gone) -> Self {
        io::Error::other(gone)
    }
}
