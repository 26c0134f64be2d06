//! The messages of PostgreSQL's `pgoutput` logical decoding plugin,
//! protocol version 1, decoded from the bytes of an `XLogData` frame.
//!
//! Each transaction comes as `Begin`, the `Relation` (and `Type`) messages
//! describing tables its changes use the first time, its `Insert`,
//! `Update`, `Delete` and `Truncate` messages, then `Commit`. Column
//! values come in PostgreSQL's text form, as `psql` prints them.
//!
//! ```
//! use stream_runtime::postgres::cdc::pgoutput::{decode, Datum, Message};
//!
//! // An insert into relation 16384 of the row (1, NULL).
//! let bytes = b"I\0\0\x40\0N\0\x02t\0\0\0\x011n";
//! let Message::Insert { relation, new } = decode(bytes).unwrap() else { panic!() };
//! assert_eq!(relation, 16384);
//! assert_eq!(new.0, [Datum::Text("1".into()), Datum::Null]);
//! ```

use super::Lsn;
use crate::time::Millis;

/// One `pgoutput` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A transaction begins.
    Begin {
        /// Where its commit record ends.
        final_lsn: Lsn,
        /// When it committed, in microseconds since 2000-01-01 (see
        /// [`unix_millis`]).
        commit_time: i64,
        /// Its transaction id.
        xid: u32,
    },
    /// The transaction commits.
    Commit {
        /// Its commit record.
        commit_lsn: Lsn,
        /// The end of its commit record: the position a reader confirms
        /// once the transaction's changes are durable downstream.
        end_lsn: Lsn,
        /// When it committed, in microseconds since 2000-01-01.
        commit_time: i64,
    },
    /// Where the transaction came from, when it was replicated in.
    Origin {
        /// The commit's position on the origin server.
        lsn: Lsn,
        /// The origin's name.
        name: String,
    },
    /// A table, before the first change to it in the stream (and again
    /// after it changed).
    Relation(Relation),
    /// A data type the columns of a relation use.
    Type {
        /// Its oid.
        id: u32,
        /// Its schema.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A row inserted.
    Insert {
        /// The table's oid.
        relation: u32,
        /// The row.
        new: Tuple,
    },
    /// A row updated.
    Update {
        /// The table's oid.
        relation: u32,
        /// The row before, when the table's replica identity gives it: its
        /// key columns (`Key`), or all of them (`Full`).
        old: Option<Old>,
        /// The row after.
        new: Tuple,
    },
    /// A row deleted.
    Delete {
        /// The table's oid.
        relation: u32,
        /// The row, as the table's replica identity gives it.
        old: Old,
    },
    /// Tables emptied.
    Truncate {
        /// Their oids.
        relations: Vec<u32>,
        /// `TRUNCATE … CASCADE`.
        cascade: bool,
        /// `TRUNCATE … RESTART IDENTITY`.
        restart_identity: bool,
    },
}

/// A table as the stream describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Its oid, which the change messages name it by.
    pub id: u32,
    /// Its schema.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its replica identity: `d` (default: the primary key), `n`
    /// (nothing), `f` (full: every column), `i` (an index).
    pub replica_identity: u8,
    /// Its columns, in order.
    pub columns: Vec<Column>,
}

/// A column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Whether it is part of the replica identity's key.
    pub key: bool,
    /// Its name.
    pub name: String,
    /// Its type's oid.
    pub type_id: u32,
    /// Its type modifier (`varchar(20)`'s length, say), or -1.
    pub type_modifier: i32,
}

/// A row's columns, in the relation's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple(pub Vec<Datum>);

/// One column of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datum {
    /// SQL `NULL`.
    Null,
    /// A large (TOASTed) value the change left as it was, which the stream
    /// does not repeat.
    Unchanged,
    /// The value in PostgreSQL's text form.
    Text(String),
}

/// The row before an update or a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Old {
    /// Only the replica identity's key columns (the others are `Null`).
    Key(Tuple),
    /// Every column (replica identity `full`).
    Full(Tuple),
}

/// Why bytes are not a `pgoutput` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a pgoutput message: {what} at byte {at}")]
pub struct DecodeError {
    /// What was wrong.
    pub what: &'static str,
    /// Where.
    pub at: usize,
}

/// Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A commit time (microseconds since 2000-01-01) in milliseconds since
/// the Unix epoch, as `event_time` takes it.
///
/// ```
/// use stream_runtime::postgres::cdc::pgoutput::unix_millis;
///
/// assert_eq!(unix_millis(0), 946_684_800_000); // 2000-01-01T00:00:00Z
/// ```
pub fn unix_millis(commit_time: i64) -> Millis {
    commit_time
        .saturating_add(POSTGRES_EPOCH_MICROS)
        .div_euclid(1000)
}

/// Decodes one message: the payload of an `XLogData` frame.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut at = Cursor { bytes, at: 0 };
    let message = match at.u8()? {
        b'B' => Message::Begin {
            final_lsn: at.lsn()?,
            commit_time: at.i64()?,
            xid: at.u32()?,
        },
        b'C' => {
            let _flags = at.u8()?;
            Message::Commit {
                commit_lsn: at.lsn()?,
                end_lsn: at.lsn()?,
                commit_time: at.i64()?,
            }
        }
        b'O' => Message::Origin {
            lsn: at.lsn()?,
            name: at.string()?,
        },
        b'R' => Message::Relation(relation(&mut at)?),
        b'Y' => Message::Type {
            id: at.u32()?,
            namespace: at.string()?,
            name: at.string()?,
        },
        b'I' => {
            let relation = at.u32()?;
            at.expect(b'N', "an insert's new row (`N`)")?;
            Message::Insert {
                relation,
                new: at.tuple()?,
            }
        }
        b'U' => {
            let relation = at.u32()?;
            let old = match at.u8()? {
                b'N' => None,
                tag => Some(at.old(tag, "an update's `K`, `O` or `N`")?),
            };
            if old.is_some() {
                at.expect(b'N', "an update's new row (`N`)")?;
            }
            Message::Update {
                relation,
                old,
                new: at.tuple()?,
            }
        }
        b'D' => {
            let relation = at.u32()?;
            let tag = at.u8()?;
            let old = at.old(tag, "a delete's `K` or `O`")?;
            Message::Delete { relation, old }
        }
        b'T' => {
            let count = at.u32()?;
            let options = at.u8()?;
            let relations = (0..count).map(|_| at.u32()).collect::<Result<_, _>>()?;
            Message::Truncate {
                relations,
                cascade: options & 1 != 0,
                restart_identity: options & 2 != 0,
            }
        }
        _ => {
            return Err(DecodeError {
                what: "an unknown message type",
                at: 0,
            })
        }
    };
    match at.at == bytes.len() {
        true => Ok(message),
        false => Err(at.error("bytes after the message's end")),
    }
}

fn relation(at: &mut Cursor<'_>) -> Result<Relation, DecodeError> {
    let id = at.u32()?;
    let namespace = at.string()?;
    let name = at.string()?;
    let replica_identity = at.u8()?;
    let count = at.u16()?;
    let mut columns = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        columns.push(Column {
            key: at.u8()? & 1 != 0,
            name: at.string()?,
            type_id: at.u32()?,
            type_modifier: at.i32()?,
        });
    }
    Ok(Relation {
        id,
        namespace,
        name,
        replica_identity,
        columns,
    })
}

/// Reads big-endian numbers, strings and tuples, saying where it failed.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn error(&self, what: &'static str) -> DecodeError {
        DecodeError { what, at: self.at }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.at + N;
        let bytes = self
            .bytes
            .get(self.at..end)
            .ok_or(self.error("the end, too soon"))?;
        self.at = end;
        let mut taken = [0; N];
        taken.copy_from_slice(bytes);
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take()?))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take()?))
    }

    fn lsn(&mut self) -> Result<Lsn, DecodeError> {
        Ok(Lsn(u64::from_be_bytes(self.take()?)))
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), DecodeError> {
        match self.u8()? == byte {
            true => Ok(()),
            false => Err(DecodeError {
                what,
                at: self.at - 1,
            }),
        }
    }

    /// A string ended by a zero byte.
    fn string(&mut self) -> Result<String, DecodeError> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let end = (rest.iter().position(|b| *b == 0)).ok_or(self.error("a string's end"))?;
        let text = std::str::from_utf8(&rest[..end]).map_err(|_| self.error("UTF-8"))?;
        self.at += end + 1;
        Ok(text.to_owned())
    }

    /// The row before an update or a delete, after its tag: `K` (the key
    /// columns) or `O` (all of them); another tag is `what` was expected.
    fn old(&mut self, tag: u8, what: &'static str) -> Result<Old, DecodeError> {
        match tag {
            b'K' => Ok(Old::Key(self.tuple()?)),
            b'O' => Ok(Old::Full(self.tuple()?)),
            _ => Err(self.error(what)),
        }
    }

    fn tuple(&mut self) -> Result<Tuple, DecodeError> {
        let count = self.u16()?;
        let mut datums = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            datums.push(match self.u8()? {
                b'n' => Datum::Null,
                b'u' => Datum::Unchanged,
                b't' => {
                    let len = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
                    let end = self.at.saturating_add(len);
                    let bytes =
                        (self.bytes.get(self.at..end)).ok_or(self.error("a value's end"))?;
                    let text = std::str::from_utf8(bytes).map_err(|_| self.error("UTF-8"))?;
                    self.at = end;
                    Datum::Text(text.to_owned())
                }
                _ => {
                    return Err(DecodeError {
                        what: "a column's `n`, `u` or `t`",
                        at: self.at - 1,
                    })
                }
            });
        }
        Ok(Tuple(datums))
    }
}

#[cfg(test)]
mod tests;
