//! Reading a pipeline's state straight from the server's `state` table.

use std::collections::BTreeMap;

use serde::Deserialize;
use stream_runtime::keyed::STATE_KEY_PREFIX;
use stream_runtime::restate::{AdminClient, ApiError};
use stream_runtime::ServiceNames;

/// Every state entry of a service: its object's key, the entry's name, and
/// the stored value's text.
pub async fn entries(
    admin: &AdminClient,
    service: &str,
) -> Result<Vec<(String, String, String)>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        service_key: String,
        key: String,
        value_utf8: String,
    }
    let rows: Vec<Row> = admin
        .query(&format!(
            "SELECT service_key, key, value_utf8 FROM state WHERE service_name = '{service}'"
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.service_key, row.key, row.value_utf8))
        .collect())
}

/// Every key's state in a pipeline's key groups: the key's JSON, as
/// `key_by` encoded it, to the stored state's JSON text.
pub async fn keyed_state(
    admin: &AdminClient,
    names: &ServiceNames,
) -> Result<BTreeMap<String, String>, ApiError> {
    let rows = entries(admin, &names.keyed).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, key, value)| {
            let key = key.strip_prefix(STATE_KEY_PREFIX)?;
            Some((key.to_owned(), value))
        })
        .collect())
}
