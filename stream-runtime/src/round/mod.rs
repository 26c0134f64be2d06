//! A token's round, as plain code over the [`Calls`] seam: what to lease,
//! what to retry, what goes to the dead-letter output, and what the token
//! does next. The `ingest` handler only hands it the SDK's context; unit
//! tests hand it a fake.
//!
//! One record's way, file by file: [`lease`] gets a range of a split from
//! `split::Next`; [`before_key`] reads it from the source and runs the
//! operators before `key_by`; [`keyed`] calls `keyed::Process` on each key
//! group it touches (`services/keyed.rs` applies `reduce` or `process` to
//! the key's state); [`write`] calls `sink::Write` (`services/sink.rs`
//! writes the batch once); and the token sends itself `source::Ingest`.

mod before_key;
mod carry;
mod exchange;
#[cfg(test)]
pub(crate) mod fake;
mod fit;
mod keyed;
mod lease;
mod replay;
mod write;

pub(crate) use carry::{carry, chained_letter};
pub(crate) use exchange::{Exchange, Typed};
pub(crate) use replay::replay;
pub(crate) use write::{write_once, Unwritten};

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use restate_sdk::errors::TerminalError;

use crate::protocol::handlers::{clock, control, source, ControlKey};
use crate::protocol::{Calls, DeadLetter, FailedStage, Handler, KeyOf, Layout, Lease, Token};
use crate::stages::Dataflow;
use crate::time::watermark::{Need, Report, SplitEvent};
use crate::time::Millis;
use lease::Leased;

/// How long a token first waits when no split has data, doubling each
/// empty round up to [`IDLE_WAIT_MAX`].
pub(crate) const IDLE_WAIT_FIRST: Duration = Duration::from_millis(50);
/// The longest a waiting token sleeps between looks.
pub(crate) const IDLE_WAIT_MAX: Duration = Duration::from_secs(2);

/// How long a token waits after `rounds` empty rounds in a row.
pub(crate) fn idle_wait(rounds: u32) -> Duration {
    let factor = 1u32.checked_shl(rounds.min(16)).unwrap_or(u32::MAX);
    IDLE_WAIT_FIRST.saturating_mul(factor).min(IDLE_WAIT_MAX)
}

/// What a token does after its round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It sent itself the next round.
    Continued,
    /// No split had data: it sent itself the next round after a wait.
    Waiting,
    /// Every split is exhausted (a bounded source ran out, or the pipeline
    /// was stopped): it parked.
    Parked,
    /// It stopped before touching state, for this reason.
    Halted(String),
    /// Its source could not be read: the round fails, and Restate retries it
    /// (the lease is journaled, so the retry reads the same range).
    Retry(String),
}

/// The layout an endpoint serves a pipeline with.
pub(crate) fn layout<D: Dataflow>(flow: &D) -> Layout {
    Layout {
        key_groups: flow.config().key_groups.count(),
        splits: flow.splits(),
        sink_partitions: flow.sink_partitions(),
        branch_partitions: flow.side_partitions(),
    }
}

/// One round of `token`: lease a range, read it, run the operators, update
/// keyed state, write the sink, and pass the token on. Every step is a
/// journaled call, so a crash anywhere resumes the round where it stopped.
/// A record that keeps failing goes to the dead-letter output; the token
/// always goes on, parks, or halts visibly.
pub(crate) async fn run<D: Dataflow, C: Calls>(flow: &D, calls: &C, token: Token) -> Outcome {
    let ours = layout(flow);
    if let Some(conflict) = token
        .layout
        .and_then(|theirs| ours.conflict(flow.name(), &theirs))
    {
        // Another layout would put state where this pipeline's is not.
        return halt(calls, conflict);
    }
    let (split, lease) = match lease::next(flow, calls, token).await {
        Ok((leased, reports)) => {
            if flow.config().watermarks.is_some() {
                for report in &reports {
                    send::<clock::ReportSplit, _>(calls, ControlKey, report);
                }
            }
            match leased {
                Leased::Range(split, lease) => (split, lease),
                Leased::Ended => {
                    send::<control::Park, _>(calls, ControlKey, &token);
                    return Outcome::Parked;
                }
                Leased::Waiting => return wait(calls, token),
            }
        }
        Err(error) => {
            // Terminal, so trying again cannot help; stop visibly instead
            // of failing the invocation, which would lose the token unseen.
            let reason = format!("token {} could not lease a range: {error}", token.id);
            return halt(calls, reason);
        }
    };
    let (from, count) = (lease.from, lease.count);
    let round = Round {
        flow,
        calls,
        split,
        lease,
        again: "",
        letters: AtomicU32::new(0),
    };
    let routed = match round.before_key().await {
        Ok(routed) => routed,
        Err(error) => {
            let reason = format!("reading split {split} at {from}: {error}");
            return Outcome::Retry(reason);
        }
    };
    let passed: usize = routed.groups.values().map(|g| g.positions.len()).sum();
    let passed = passed + routed.output.len() + routed.side.len();
    crate::counts::source(flow.name(), count as usize, passed);
    let mut output = routed.output;
    let side = routed.side;
    let mut needs = Vec::new();
    if !routed.groups.is_empty() {
        let answer = round.keyed(routed.groups, token.watermark).await;
        output.extend(answer.out);
        needs = answer.needs;
    }
    // The range has reached its key groups: the clock hears of it while
    // the sink writes (both calls are issued before either is awaited).
    let report = match flow.config().watermarks {
        Some(_) => round.report(routed.max_time, needs),
        None => None,
    };
    if !output.is_empty() {
        round.write(token, output).await;
    }
    if !side.is_empty() {
        round.write_side(token, side).await;
    }
    let first = token.first_split(flow.splits());
    let mut next = Token {
        idle: 0,
        cursor: token.next_split(first, flow.splits()),
        ..token
    };
    if let Some(report) = report {
        next.watermark = report.await.ok().or(token.watermark);
    }
    send::<source::Ingest, _>(calls, (), &next);
    Outcome::Continued
}

/// No split has data now: the token comes back after a wait that grows
/// with each empty round, as a durable delayed call (it neither spins nor
/// parks for good).
fn wait<C: Calls>(calls: &C, token: Token) -> Outcome {
    let next = Token {
        idle: token.idle.saturating_add(1),
        ..token
    };
    if let Err(error) = calls.send_after::<source::Ingest>((), &next, idle_wait(token.idle)) {
        tracing::error!(%error, "a waiting token was not sent");
    }
    Outcome::Waiting
}

/// Stops the token, recording why in the control object (see `status`).
fn halt<C: Calls>(calls: &C, reason: String) -> Outcome {
    send::<control::Halt, _>(calls, ControlKey, &reason);
    Outcome::Halted(reason)
}

/// Sends a message of the pipeline's own, whose encoding cannot fail; if
/// it ever did, the log says so.
fn send<H: Handler, C: Calls>(calls: &C, key: KeyOf<H>, input: &H::Input) {
    if let Err(error) = calls.send::<H>(key, input) {
        tracing::error!(%error, "a message was not sent");
    }
}

/// One token's round over one leased range.
struct Round<'a, D, C> {
    flow: &'a D,
    calls: &'a C,
    split: u32,
    lease: Lease,
    /// What its dead letters' errors start with: `replayed: ` when it
    /// replays a letter.
    again: &'static str,
    /// The dead letters it has sent.
    letters: AtomicU32,
}

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// Tells the clock the range reached its key groups, with its largest
    /// timestamp and the wake-ups its groups asked for; the call, issued,
    /// answers the watermark. `None` if the
    /// report could not be encoded, which the next range's report makes good.
    fn report(
        &self,
        max: Option<Millis>,
        needs: Vec<Need>,
    ) -> Option<impl std::future::Future<Output = Result<Millis, TerminalError>> + '_> {
        let event = SplitEvent::Done {
            from: self.lease.from,
            count: self.lease.count,
            max,
        };
        let report = Report {
            split: self.split,
            event,
            needs,
        };
        match self.calls.call::<clock::ReportSplit>(ControlKey, &report) {
            Ok(call) => Some(call),
            Err(error) => {
                tracing::error!(%error, "a range was not reported to the clock");
                None
            }
        }
    }

    /// Sends records to the dead-letter output, with where they came from.
    fn dead_letter(
        &self,
        position: u64,
        count: u32,
        stage: FailedStage,
        error: String,
        record: Option<serde_json::Value>,
    ) {
        let letter = DeadLetter {
            split: self.split,
            position,
            count,
            stage,
            error: format!("{}{error}", self.again),
            record,
        };
        self.letters.fetch_add(1, Ordering::Relaxed);
        send::<control::KeepDeadLetter, _>(self.calls, ControlKey, &letter);
    }
}

#[cfg(test)]
mod tests;
