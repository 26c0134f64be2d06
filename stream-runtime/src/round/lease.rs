//! Leasing the next range for a token.

use restate_sdk::errors::TerminalError;

use crate::protocol::handlers::split;
use crate::protocol::{Calls, Lease, Token};
use crate::stages::Dataflow;

/// Leases the next range for `token`, starting with its own split (its id
/// modulo the splits) and moving on to the others while a split is
/// exhausted. `None` when all are.
pub(super) async fn next<D: Dataflow, C: Calls>(
    flow: &D,
    calls: &C,
    token: Token,
) -> Result<Option<(u32, Lease)>, TerminalError> {
    let splits = flow.splits();
    let first = (token.id % u64::from(splits)) as u32;
    for offset in 0..splits {
        let split = (first + offset) % splits;
        let lease = calls
            .call::<split::Next>(split, &flow.config().batch_size)
            .map_err(|e| TerminalError::new(e.to_string()))?
            .await?;
        if lease.count > 0 {
            return Ok(Some((split, lease)));
        }
    }
    Ok(None)
}
