//! `KafkaRecord`, a record read from Kafka (partition, offset, timestamp,
//! key and value bytes), and `NotJson`, the error when its value is not the
//! JSON expected.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// A record read from Kafka: where it was, when, and its bytes.
///
/// ```
/// use stream_runtime::kafka::KafkaRecord;
///
/// let record = KafkaRecord {
///     partition: 0,
///     offset: 7,
///     timestamp: 1_700_000_000_000,
///     key: Some(b"user-1".to_vec()),
///     value: Some(br#"{"clicks":3}"#.to_vec()),
/// };
/// assert_eq!(record.key_str(), Some("user-1"));
/// let value: serde_json::Value = record.json().unwrap();
/// assert_eq!(value["clicks"], 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaRecord {
    /// The topic's partition (the pipeline's split).
    pub partition: u32,
    /// Its offset in the partition (the split's position).
    pub offset: u64,
    /// Its Kafka timestamp, in milliseconds: usable as event time,
    /// `event_time(|r| r.timestamp)`.
    pub timestamp: Millis,
    /// The key's bytes, if any.
    pub key: Option<Vec<u8>>,
    /// The value's bytes, if any.
    pub value: Option<Vec<u8>>,
}

impl KafkaRecord {
    /// The key as UTF-8 text, if it is.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(self.key.as_deref()?).ok()
    }

    /// The value as UTF-8 text, if it is.
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(self.value.as_deref()?).ok()
    }

    /// The value decoded as JSON. A value that does not decode is a
    /// [`NotJson`] naming where it was; `map(|r| r.json::<Event>().expect(..))`
    /// sends such a record to the dead-letter output, with that error, and
    /// the rest flow.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, NotJson> {
        let value = self.value.as_deref().unwrap_or_default();
        serde_json::from_slice(value).map_err(|e| NotJson {
            partition: self.partition,
            offset: self.offset,
            reason: e.to_string(),
        })
    }
}

/// A Kafka record whose value is not the JSON expected: where it was, and
/// why. It is a record itself (serializable), so a stage can pass it on,
/// to a side output for example.
///
/// ```
/// use stream_runtime::kafka::KafkaRecord;
///
/// let record = KafkaRecord {
///     partition: 2,
///     offset: 41,
///     timestamp: 0,
///     key: None,
///     value: Some(b"not json".to_vec()),
/// };
/// let error = record.json::<u64>().unwrap_err();
/// assert_eq!((error.partition, error.offset), (2, 41));
/// assert!(error.to_string().starts_with("the value at partition 2 offset 41 is not the JSON expected"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("the value at partition {partition} offset {offset} is not the JSON expected: {reason}")]
pub struct NotJson {
    /// The record's partition.
    pub partition: u32,
    /// The record's offset.
    pub offset: u64,
    /// What the JSON decoder said.
    pub reason: String,
}
