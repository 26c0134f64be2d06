//! `SqlValue`: one column's value in a row the PostgreSQL sink writes, with
//! its conversions and its `ToSql`.

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// One column's value in a row the sink writes.
///
/// ```
/// use stream_runtime::postgres::SqlValue;
///
/// let row = vec![SqlValue::from("to"), SqlValue::from(2i64)];
/// assert_eq!(row[1], SqlValue::Int(2));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// `text`, `varchar`.
    Text(String),
    /// `bigint` (and `integer` columns, cast by the statement).
    Int(i64),
    /// `double precision`.
    Float(f64),
    /// `boolean`.
    Bool(bool),
    /// `jsonb` or `json`.
    Json(serde_json::Value),
    /// `NULL`.
    Null,
}

impl From<&str> for SqlValue {
    fn from(text: &str) -> Self {
        SqlValue::Text(text.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(text: String) -> Self {
        SqlValue::Text(text)
    }
}

impl From<i64> for SqlValue {
    fn from(n: i64) -> Self {
        SqlValue::Int(n)
    }
}

impl From<f64> for SqlValue {
    fn from(x: f64) -> Self {
        SqlValue::Float(x)
    }
}

impl From<bool> for SqlValue {
    fn from(b: bool) -> Self {
        SqlValue::Bool(b)
    }
}

impl From<serde_json::Value> for SqlValue {
    fn from(json: serde_json::Value) -> Self {
        SqlValue::Json(json)
    }
}

impl SqlValue {
    /// A text form, for telling rows apart by their key columns.
    pub(super) fn identity(&self) -> String {
        format!("{self:?}")
    }
}

impl ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            SqlValue::Text(text) => text.to_sql(ty, out),
            SqlValue::Int(n) if *ty == Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
            SqlValue::Int(n) if *ty == Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
            SqlValue::Int(n) => n.to_sql(ty, out),
            SqlValue::Float(x) if *ty == Type::FLOAT4 => (*x as f32).to_sql(ty, out),
            SqlValue::Float(x) => x.to_sql(ty, out),
            SqlValue::Bool(b) => b.to_sql(ty, out),
            SqlValue::Json(json) => json.to_sql(ty, out),
            SqlValue::Null => Ok(IsNull::Yes),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
