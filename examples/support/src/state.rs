//! Reading a pipeline's state straight from the server's `state` table.

use std::collections::BTreeMap;

use serde::Deserialize;
use stream_runtime::keyed::STATE_KEY_PREFIX;
use stream_runtime::restate::{AdminClient, ApiError};
use stream_runtime::ServiceNames;

/// Every key's state in a pipeline's key groups: the key's JSON, as
/// `key_by` encoded it, to the stored state's JSON text.
pub async fn keyed_state(
    admin: &AdminClient,
    names: &ServiceNames,
) -> Result<BTreeMap<String, String>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        key: String,
        value_utf8: String,
    }
    let rows: Vec<Row> = admin
        .query(&format!(
            "SELECT key, value_utf8 FROM state WHERE service_name = '{}' AND key LIKE '{STATE_KEY_PREFIX}%'",
            names.keyed
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let key = row.key.strip_prefix(STATE_KEY_PREFIX).unwrap_or(&row.key);
            (key.to_owned(), row.value_utf8)
        })
        .collect())
}
