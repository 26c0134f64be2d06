//! A source's answer that it ends before the position the pipeline has
//! already read up to: it is not the source the pipeline's state came from.

use std::io;

/// The error a [`Source`](super::Source) returns from `available` when a
/// split ends at `end`, before the position asked about: the pipeline read
/// up to there from another source (a Kafka topic that was deleted and
/// created again, or another broker). The split does not wait for offsets
/// that will never come: the pipeline's tokens stop, and its status and
/// the runner say why.
///
/// ```
/// use stream_runtime::source::EndsBefore;
///
/// let error: std::io::Error = EndsBefore::new(0, "topic `views` partition 1 ends at offset 0").into();
/// assert_eq!(EndsBefore::find(&error).map(|e| e.end), Some(0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the source ends at position {end}: {reason}")]
pub struct EndsBefore {
    /// Where the split ends.
    pub end: u64,
    /// What the source is, as the message will say.
    pub reason: String,
}

impl EndsBefore {
    /// The split ends at `end`, for `reason`.
    pub fn new(end: u64, reason: impl Into<String>) -> Self {
        Self {
            end,
            reason: reason.into(),
        }
    }

    /// The answer an I/O error reports, if it is one.
    pub fn find(error: &io::Error) -> Option<&EndsBefore> {
        error.get_ref()?.downcast_ref()
    }
}

impl From<EndsBefore> for io::Error {
    fn from(error: EndsBefore) -> Self {
        io::Error::other(error)
    }
}
