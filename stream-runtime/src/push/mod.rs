//! The decisions of a pushed split's log (see
//! [`Pushed`](crate::source::Pushed)), apart from Restate: which split a
//! batch goes to, whether the log takes it or the producer must wait, and
//! what a lease takes from the log's batches (`take.rs`). The handlers in
//! `services/ingest.rs` and `services/log.rs` read and write the state
//! these decisions are about.

mod take;

#[cfg(test)]
use take::Taken;
pub(crate) use take::Taking;

use std::time::Duration;

use crate::group::stable_hash;

/// The split a batch with idempotency `key` goes to, of `splits`: the same
/// for every retry of the batch, in every process.
pub(crate) fn split_of(key: &str, splits: u32) -> u32 {
    (stable_hash(key) % u64::from(splits.max(1))) as u32
}

/// The shortest wait a refused producer is told.
pub(crate) const WAIT_MIN: Duration = Duration::from_millis(100);
/// The longest.
pub(crate) const WAIT_MAX: Duration = Duration::from_secs(5);

/// Why a log refuses a batch for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "split {split} holds {unread} records unread, and takes no more past {bound}: \
     retry after {} ms",
    wait.as_millis()
)]
pub(crate) struct Full {
    pub split: u32,
    pub unread: u64,
    pub bound: u64,
    /// How long to wait before sending the batch again.
    pub wait: Duration,
}

/// Whether a split's log that holds `unread` records unread takes a batch
/// of `incoming` more under `bound`. An empty log takes any batch whole
/// (else a batch larger than the bound could never go in); a log that
/// would pass the bound refuses it, and the wait it answers grows with how
/// far past the bound it would be: from [`WAIT_MIN`] at the bound to
/// [`WAIT_MAX`] at twice it.
pub(crate) fn admit(split: u32, unread: u64, incoming: u64, bound: u64) -> Result<(), Full> {
    let after = unread.saturating_add(incoming);
    if unread == 0 || after <= bound {
        return Ok(());
    }
    let past = (after - bound).min(bound);
    let span = WAIT_MAX.saturating_sub(WAIT_MIN);
    let share = span.mul_f64(past as f64 / bound.max(1) as f64);
    Err(Full {
        split,
        unread,
        bound,
        wait: WAIT_MIN.saturating_add(share).min(WAIT_MAX),
    })
}

/// The size of a record encoded as JSON, without encoding it into memory.
pub(crate) fn encoded_len(record: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, record);
    count.0
}

#[cfg(test)]
mod tests;
