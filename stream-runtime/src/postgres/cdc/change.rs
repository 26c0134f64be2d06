//! [`Change`]: one row change, as the CDC source gives it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::pgoutput::{Datum, Relation, Tuple};

/// A row, column name to value: numbers, booleans and JSON columns as
/// JSON, every other type in PostgreSQL's text form (`numeric` too, so it
/// stays exact), and SQL `NULL` as `null`. A large value that an update
/// left unchanged (TOAST) is absent: the stream does not repeat it.
pub type Row = Map<String, Value>;

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A row of the initial snapshot: `after` (Debezium's `r`).
    Read,
    /// A row inserted: `after`.
    Insert,
    /// A row updated: `after`, and `before` when the table's replica
    /// identity gives it (`FULL`: every column; the default: only when the
    /// key changed, its key columns).
    Update,
    /// A row deleted: `before`, as the replica identity gives it (the key
    /// columns by default).
    Delete,
    /// The table emptied: no row.
    Truncate,
}

/// One change to a row of a published table, in commit order: Debezium's
/// envelope (`op`, `before`, `after`, the source position) without Kafka.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `schema.table`.
    pub table: String,
    /// What happened.
    pub op: Op,
    /// The row before, where there is one and the replica identity gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Row>,
    /// The row after (inserts and updates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Row>,
    /// The transaction's commit position, as PostgreSQL prints it.
    pub lsn: String,
    /// When the transaction committed, in milliseconds since the Unix
    /// epoch: what `event_time` takes.
    pub commit_millis: i64,
}

impl Change {
    /// The row after (or, for a delete, before) as `T`, by column name.
    ///
    /// ```
    /// use serde::Deserialize;
    /// use stream_runtime::postgres::cdc::{Change, Op};
    ///
    /// #[derive(Deserialize)]
    /// struct Order { id: i64, shop: String }
    ///
    /// let change = Change {
    ///     table: "public.orders".into(),
    ///     op: Op::Insert,
    ///     before: None,
    ///     after: Some(serde_json::json!({"id": 7, "shop": "north"}).as_object().unwrap().clone()),
    ///     lsn: "0/16B3748".into(),
    ///     commit_millis: 0,
    /// };
    /// let order: Order = change.row().unwrap();
    /// assert_eq!((order.id, order.shop.as_str()), (7, "north"));
    /// ```
    pub fn row<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let row = self.after.as_ref().or(self.before.as_ref());
        T::deserialize(Value::Object(row.cloned().unwrap_or_default()))
    }
}

/// `tuple` as a row of `relation`.
pub(crate) fn row(relation: &Relation, tuple: &Tuple) -> Row {
    let mut row = Map::new();
    for (column, datum) in relation.columns.iter().zip(&tuple.0) {
        let value = match datum {
            Datum::Null => Value::Null,
            Datum::Unchanged => continue,
            Datum::Text(text) => typed(column.type_id, text),
        };
        row.insert(column.name.clone(), value);
    }
    row
}

/// A column's text as JSON, by its type's oid.
pub(crate) fn typed(type_id: u32, text: &str) -> Value {
    const BOOL: u32 = 16;
    const INT8: u32 = 20;
    const INT2: u32 = 21;
    const INT4: u32 = 23;
    const JSON: u32 = 114;
    const FLOAT4: u32 = 700;
    const FLOAT8: u32 = 701;
    const JSONB: u32 = 3802;
    let parsed = match type_id {
        // The server's text form (the stream's, and the snapshot's).
        BOOL => Some(Value::Bool(text == "t")),
        INT2 | INT4 | INT8 => text.parse::<i64>().ok().map(Value::from),
        FLOAT4 | FLOAT8 => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        JSON | JSONB => serde_json::from_str(text).ok(),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}
