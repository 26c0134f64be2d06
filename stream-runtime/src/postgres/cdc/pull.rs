//! One pull: a replication connection started at the mark, the mark
//! confirmed to the server (everything before it is durable in the
//! pipeline), and the changes read until the stream is quiet or the pull
//! has as many as it may take.

use std::io;
use std::time::Duration;

use serde_json::Value;

use super::assemble::{Assembler, Mark, Step};
use super::conn::Replication;
use super::pgoutput;
use super::quiet::{Next, Quiet};
use super::Lsn;

/// The longest a pull waits inside a transaction for the rest of it.
const INSIDE_TRANSACTION: Duration = Duration::from_secs(30);

/// What a pull reads from.
pub(crate) struct Slot<'a> {
    pub name: &'a str,
    pub publication: &'a str,
}

/// Reads what the slot has after `mark`, up to `max` changes and about
/// `bytes`, stopping once nothing comes for `quiet` after the server has
/// read up to the mark ([`Quiet`]); answers the changes and the next mark.
pub(crate) async fn pull(
    mut conn: Replication,
    slot: &Slot<'_>,
    mark: Mark,
    (max, bytes): (usize, usize),
    quiet: Duration,
) -> io::Result<(Vec<Value>, Mark)> {
    let start = format!(
        "START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names '{}')",
        slot.name, mark.lsn, slot.publication
    );
    conn.start(&start).await?;
    // What is before the mark is durable in the pipeline's log: the server
    // may let its WAL go.
    conn.send_copy(&status_update(mark.lsn, false)).await?;
    let mut assembler = Assembler::new(mark, max, bytes);
    let mut silences = Quiet::new(mark.lsn);
    loop {
        let inside = assembler.in_transaction();
        let wait = if inside { INSIDE_TRANSACTION } else { quiet };
        let Some(data) = conn.next_copy(wait).await? else {
            if inside {
                let why = format!("slot {}: no end of a transaction after {wait:?}", slot.name);
                return Err(io::Error::new(io::ErrorKind::TimedOut, why));
            }
            match silences.silence() {
                // Quiet: ask how far the server has read (its answer is a
                // keepalive, after everything sent before it).
                Next::Ask => conn.send_copy(&status_update(mark.lsn, true)).await?,
                _ => break,
            }
            continue;
        };
        match data.first() {
            // XLogData: start, end, send time, then the message.
            Some(b'w') if data.len() > 25 => {
                let message = pgoutput::decode(&data[25..]).map_err(io::Error::other)?;
                let step = assembler.message(message).map_err(|why| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("slot {}: {why}", slot.name),
                    )
                })?;
                if step == Step::Full {
                    break;
                }
            }
            // A keepalive: the server's position, then whether it asks
            // for an answer.
            Some(b'k') if data.len() >= 18 => {
                if silences.asked() {
                    let mut end = [0u8; 8];
                    end.copy_from_slice(&data[1..9]);
                    match silences.answer(Lsn(u64::from_be_bytes(end))) {
                        Next::Stop(Some(sent)) => {
                            assembler.passed(sent);
                            break;
                        }
                        Next::Stop(None) => break,
                        // Still reading its way to the mark.
                        Next::Ask | Next::Wait => continue,
                    }
                }
                if data[17] == 1 {
                    conn.send_copy(&status_update(mark.lsn, false)).await?;
                }
            }
            _ => {}
        }
    }
    conn.close().await;
    Ok(assembler.finish())
}

/// A standby status update: written, flushed and applied up to `lsn`.
fn status_update(lsn: Lsn, reply: bool) -> Vec<u8> {
    let mut message = Vec::with_capacity(34);
    message.push(b'r');
    for _ in 0..3 {
        message.extend_from_slice(&lsn.0.to_be_bytes());
    }
    message.extend_from_slice(&postgres_clock().to_be_bytes());
    message.push(u8::from(reply));
    message
}

/// Microseconds since 2000-01-01, PostgreSQL's clock.
fn postgres_clock() -> i64 {
    const POSTGRES_EPOCH_MILLIS: i64 = 946_684_800_000;
    (crate::time::wall_clock() - POSTGRES_EPOCH_MILLIS).saturating_mul(1000)
}
