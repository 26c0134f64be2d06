//! Leasing the next range for a token.

use restate_sdk::errors::TerminalError;

use crate::protocol::handlers::split;
use crate::protocol::{Calls, Dry, Lease, Token};
use crate::stages::Dataflow;
use crate::time::watermark::{Report, SplitEvent};

/// What a token found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Leased {
    /// A range of a split.
    Range(u32, Lease),
    /// Nothing now, but an endless split may have data later.
    Waiting,
    /// Every split ended or is stopped.
    Ended,
}

/// Leases the next range for `token`, starting with the split its cursor
/// names (at first its id modulo the splits; each round its
/// [`peers`](Token::peers) splits on) and moving on to the others while a
/// split has nothing. So tokens injected together go round the splits: a
/// split with data waits a bounded number of a token's rounds, however few
/// tokens there are (as every Kafka partition has a consumer that fetches
/// from it), and as many tokens as splits each keep to their own. Also
/// answers what the empty splits said, for the clock: which ended, and
/// which just went idle.
pub(super) async fn next<D: Dataflow, C: Calls>(
    flow: &D,
    calls: &C,
    token: Token,
) -> Result<(Leased, Vec<Report>), TerminalError> {
    let splits = flow.splits();
    let first = token.first_split(splits);
    let mut reports = Vec::new();
    let mut waiting = false;
    for offset in 0..splits {
        let split = (first + offset) % splits;
        let lease = calls
            .call::<split::Next>(split, &flow.config().batch_size)
            .map_err(|e| TerminalError::new(e.to_string()))?
            .await?;
        let event = match lease.dry() {
            None => return Ok((Leased::Range(split, lease), reports)),
            Some(Dry::Ended) => Some(SplitEvent::End { at: lease.from }),
            Some(Dry::Stopped) => None,
            Some(Dry::Waiting { idle }) => {
                waiting = true;
                idle.then_some(SplitEvent::Idle { at: lease.from })
            }
        };
        reports.extend(event.map(|event| Report {
            split,
            event,
            needs: Vec::new(),
        }));
    }
    let leased = if waiting {
        Leased::Waiting
    } else {
        Leased::Ended
    };
    Ok((leased, reports))
}
