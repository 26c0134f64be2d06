//! Reading a pipeline's state straight from the server's `state` table.

use std::collections::BTreeMap;

use serde::Deserialize;
use stream_runtime::keyed::{group_entries, STATE_KEY_PREFIX};
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

/// Every entry of a keyed service's groups as the pipeline reads it: each
/// group's pending deltas taken over its own entries, without the delta
/// and cache bookkeeping ([`group_entries`]): the group, the entry's name
/// and its text.
pub async fn group_state(
    admin: &AdminClient,
    service: &str,
) -> Result<Vec<(String, String, String)>, ApiError> {
    let mut groups: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (group, key, value) in entries(admin, service).await? {
        groups.entry(group).or_default().push((key, value));
    }
    let mut state = Vec::new();
    for (group, rows) in groups {
        let entries = group_entries(rows).map_err(|reason| ApiError::Decode {
            what: format!("the state of {service} group {group}"),
            reason,
        })?;
        state.extend(
            entries
                .into_iter()
                .map(|(name, value)| (group.clone(), name, value)),
        );
    }
    Ok(state)
}

/// Every key's state in a pipeline's key groups: the key's JSON, as
/// `key_by` encoded it, to the stored state's JSON text.
pub async fn keyed_state(
    admin: &AdminClient,
    names: &ServiceNames,
) -> Result<BTreeMap<String, String>, ApiError> {
    let rows = group_state(admin, &names.keyed).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, key, value)| {
            let key = key.strip_prefix(STATE_KEY_PREFIX)?;
            Some((key.to_owned(), value))
        })
        .collect())
}
