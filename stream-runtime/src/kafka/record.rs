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

    /// The value decoded as JSON. A value that does not decode is an error
    /// naming where it was; `map(|r| r.json::<Event>().expect(..))` sends such a
    /// record to the dead-letter output, with that error, and the rest flow.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        let value = self.value.as_deref().unwrap_or_default();
        serde_json::from_slice(value).map_err(|e| {
            format!(
                "the value at partition {} offset {} is not the JSON expected: {e}",
                self.partition, self.offset
            )
        })
    }
}
