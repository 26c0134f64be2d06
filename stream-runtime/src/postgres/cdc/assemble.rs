//! From the decoded stream to the changes a pull appends: whole
//! transactions in commit order, each change with its transaction's commit
//! position and time, up to a count and a size; and the mark the next pull
//! starts from. Plain code over [`Message`]s, apart from the connection.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::change::{row, Change, Op};
use super::pgoutput::{unix_millis, Message, Old, Relation};
use super::Lsn;
use crate::push::encoded_len;

/// Where a pull starts: after the transaction that ends at `lsn` (the last
/// one appended whole), skipping the first `skip` changes of the next one
/// (appended by a pull that stopped inside it). Written `16/B374D848+3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub lsn: Lsn,
    pub skip: u64,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.lsn, self.skip)
    }
}

impl FromStr for Mark {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (lsn, skip) = text.split_once('+').unwrap_or((text, "0"));
        Ok(Mark {
            lsn: lsn.parse().map_err(|e| format!("{e}"))?,
            skip: skip
                .parse()
                .map_err(|_| format!("`{text}` is not a CDC position"))?,
        })
    }
}

/// The transaction being read.
struct Transaction {
    /// Its commit record's position.
    lsn: Lsn,
    commit_millis: i64,
    /// Appended whole by an earlier pull: its changes are not taken again.
    appended: bool,
    /// Its changes seen so far, counting those skipped.
    seen: u64,
    /// How many of its first changes an earlier pull appended.
    skip: u64,
    changes: Vec<Value>,
}

/// Whether a pull goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    More,
    /// It has as many changes, or bytes, as it may take.
    Full,
}

/// Assembles one pull.
pub(crate) struct Assembler {
    start: Mark,
    /// Whether the first transaction after the start was seen.
    met_next: bool,
    max: usize,
    bytes: usize,
    used: usize,
    relations: HashMap<u32, Relation>,
    transaction: Option<Transaction>,
    out: Vec<Value>,
    mark: Mark,
}

impl Assembler {
    /// A pull from `start` of at most `max` changes and about `bytes` of
    /// them encoded (at least one change).
    pub(crate) fn new(start: Mark, max: usize, bytes: usize) -> Self {
        Self {
            start,
            met_next: false,
            max: max.max(1),
            bytes,
            used: 0,
            relations: HashMap::new(),
            transaction: None,
            out: Vec::new(),
            mark: start,
        }
    }

    /// Whether it is inside a transaction (so the stream owes its end).
    pub(crate) fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Takes one message of the stream.
    pub(crate) fn message(&mut self, message: Message) -> Result<Step, String> {
        match message {
            Message::Begin {
                final_lsn,
                commit_time,
                ..
            } => {
                // The server starts at the mark; a transaction committed
                // before it (the server's start can be earlier) is skipped.
                let appended = final_lsn < self.start.lsn;
                let skip = if !appended && !self.met_next {
                    self.met_next = true;
                    self.start.skip
                } else {
                    0
                };
                self.transaction = Some(Transaction {
                    lsn: final_lsn,
                    commit_millis: unix_millis(commit_time),
                    appended,
                    seen: 0,
                    skip,
                    changes: Vec::new(),
                });
                Ok(Step::More)
            }
            Message::Commit { end_lsn, .. } => {
                let transaction = self.transaction.take().ok_or("a commit with no begin")?;
                if transaction.appended {
                    return Ok(Step::More);
                }
                self.out.extend(transaction.changes);
                self.mark = Mark {
                    lsn: end_lsn,
                    skip: 0,
                };
                Ok(self.step())
            }
            Message::Relation(relation) => {
                self.relations.insert(relation.id, relation);
                Ok(Step::More)
            }
            Message::Insert { relation, new } => {
                let after = self.row_of(relation, &new)?;
                self.change(relation, Op::Insert, None, Some(after))
            }
            Message::Update { relation, old, new } => {
                let before = match &old {
                    Some(Old::Key(tuple) | Old::Full(tuple)) => Some(self.row_of(relation, tuple)?),
                    None => None,
                };
                let after = self.row_of(relation, &new)?;
                self.change(relation, Op::Update, before, Some(after))
            }
            Message::Delete { relation, old } => {
                let (Old::Key(tuple) | Old::Full(tuple)) = &old;
                let before = self.row_of(relation, tuple)?;
                self.change(relation, Op::Delete, Some(before), None)
            }
            Message::Truncate { relations, .. } => {
                let mut step = Step::More;
                for relation in relations {
                    step = self.change(relation, Op::Truncate, None, None)?;
                    if step == Step::Full {
                        break;
                    }
                }
                Ok(step)
            }
            Message::Origin { .. } | Message::Type { .. } => Ok(Step::More),
        }
    }

    /// The server has sent everything before `lsn` (a keepalive's position,
    /// asked for once the stream was quiet): with no transaction open and
    /// none taken in part, the next pull can start there, past the
    /// transactions that touched no published table, which the stream does
    /// not send; so the slot is confirmed past them too, and PostgreSQL need
    /// not keep their WAL.
    pub(crate) fn passed(&mut self, lsn: Lsn) {
        if self.transaction.is_none() && self.mark.skip == 0 && lsn > self.mark.lsn {
            self.mark.lsn = lsn;
        }
    }

    /// What it took, and where the next pull starts.
    pub(crate) fn finish(self) -> (Vec<Value>, Mark) {
        (self.out, self.mark)
    }

    fn row_of(
        &self,
        relation: u32,
        tuple: &super::pgoutput::Tuple,
    ) -> Result<super::change::Row, String> {
        let described = self.relations.get(&relation);
        let described =
            described.ok_or_else(|| format!("a change to relation {relation}, never described"))?;
        Ok(row(described, tuple))
    }

    /// One change of the current transaction.
    fn change(
        &mut self,
        relation: u32,
        op: Op,
        before: Option<super::change::Row>,
        after: Option<super::change::Row>,
    ) -> Result<Step, String> {
        let table = match self.relations.get(&relation) {
            Some(r) => format!("{}.{}", r.namespace, r.name),
            None => return Err(format!("a change to relation {relation}, never described")),
        };
        let transaction = self
            .transaction
            .as_mut()
            .ok_or("a change outside a transaction")?;
        if transaction.appended {
            return Ok(Step::More);
        }
        transaction.seen += 1;
        if transaction.seen <= transaction.skip {
            return Ok(Step::More);
        }
        let change = Change {
            table,
            op,
            before,
            after,
            lsn: transaction.lsn.to_string(),
            commit_millis: transaction.commit_millis,
        };
        let value = serde_json::to_value(change).map_err(|e| e.to_string())?;
        self.used += encoded_len(&value);
        transaction.changes.push(value);
        if self.out.len() + transaction.changes.len() < self.max && self.used < self.bytes {
            return Ok(Step::More);
        }
        // Full inside the transaction: take what it has so far, and start
        // the next pull inside it, past these.
        let seen = transaction.seen;
        let changes = std::mem::take(&mut transaction.changes);
        self.transaction = None;
        self.out.extend(changes);
        self.mark = Mark {
            lsn: self.mark.lsn,
            skip: seen,
        };
        Ok(Step::Full)
    }

    fn step(&self) -> Step {
        if self.out.len() >= self.max || self.used >= self.bytes {
            Step::Full
        } else {
            Step::More
        }
    }
}

#[cfg(test)]
mod tests;
