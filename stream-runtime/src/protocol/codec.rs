//! How records cross between a token and its key groups, and between
//! keyed stages: JSON, or MessagePack behind a two-byte tag that no JSON
//! text begins with ([`PipelineConfig::binary_records`]).
//!
//! MessagePack is written with structs as maps and as a human-readable
//! format, so it keeps serde's whole data model as JSON does: field names
//! (so `skip_serializing_if` and `default` line up), `flatten`, untagged
//! enums, `serde_json::Value`, and the text forms of types such as UUIDs
//! and times. Decoding reads either encoding, whatever the pipeline
//! writes, so calls journaled before a switch still replay.
//!
//! [`PipelineConfig::binary_records`]: crate::PipelineConfig::binary_records

use std::any::TypeId;
use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use super::CodecError;
use crate::record::Record;

/// Begins a binary body: `0xC1` is never valid UTF-8 and is the one byte
/// MessagePack leaves unused; then the format's version.
const TAG: [u8; 2] = [0xC1, 0x01];

/// How a message's records are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// JSON text.
    #[default]
    Json,
    /// Tagged MessagePack.
    Binary,
}

impl Encoding {
    /// The encoding records of `first`'s type go in when `self` is asked
    /// for: JSON for records that are JSON text already (relayed ones),
    /// and for a type whose first record does not come back the same from
    /// MessagePack (one with a field of `serde_json::value::RawValue`,
    /// which only JSON can carry, say). Decided from the records alone, so
    /// that a call made again on replay carries the same bytes.
    pub(crate) fn for_records<T: Record>(self, first: Option<&T>) -> Self {
        if self == Self::Json || TypeId::of::<T>() == TypeId::of::<Box<RawValue>>() {
            return Self::Json;
        }
        match first {
            Some(first) if !round_trips(first) => Self::Json,
            _ => Self::Binary,
        }
    }

    /// The encoding `bytes` are in.
    pub(crate) fn of(bytes: &[u8]) -> Self {
        match bytes.starts_with(&TAG) {
            true => Self::Binary,
            false => Self::Json,
        }
    }
}

/// `value` in `encoding`; as JSON when it holds a `RawValue` anywhere,
/// which MessagePack writes but cannot read back (the first record's check
/// in [`Encoding::for_records`] misses one in a later record, or in a
/// variant the first does not use). Decided from the bytes alone, so a
/// replay sends the same.
pub(crate) fn encode<T: Serialize>(value: &T, encoding: Encoding) -> Result<Vec<u8>, CodecError> {
    if encoding == Encoding::Json {
        return Ok(serde_json::to_vec(value)?);
    }
    let mut bytes = TAG.to_vec();
    write_binary(&mut bytes, value)?;
    match memchr::memmem::find(&bytes, RAW_VALUE_TOKEN).is_some() {
        true => Ok(serde_json::to_vec(value)?),
        false => Ok(bytes),
    }
}

/// The name under which serde_json's `RawValue` serializes itself: in
/// MessagePack, a map key. (A string of a record that holds these very
/// bytes sends its call as JSON, which changes nothing but the size.)
const RAW_VALUE_TOKEN: &[u8] = b"$serde_json::private::RawValue";

/// A value in either encoding, as its first bytes say.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.strip_prefix(&TAG) {
        None => Ok(serde_json::from_slice(bytes)?),
        Some(body) => {
            let mut deserializer =
                rmp_serde::Deserializer::from_read_ref(body).with_human_readable();
            T::deserialize(&mut deserializer).map_err(|e| CodecError::Binary(e.to_string()))
        }
    }
}

/// Each record's size as calls carry it, counted without keeping the
/// bytes, and the encoding it is counted in: `encoding`, or JSON when a
/// record holds a `RawValue` (seen as its MessagePack is counted), which
/// [`encode`] would send as JSON. A record that cannot be encoded counts
/// 0: its call then fails to encode and says so.
pub(crate) fn sizes<'a, T: Serialize + 'a>(
    records: impl Iterator<Item = &'a T> + Clone,
    encoding: Encoding,
) -> (Encoding, Vec<usize>) {
    if encoding == Encoding::Binary {
        let mut sizes = Vec::new();
        let mut counter = Counter::default();
        for record in records.clone() {
            counter.bytes = 0;
            let written = write_binary(&mut counter, record).is_ok();
            if counter.raw_value {
                break;
            }
            sizes.push(if written { counter.bytes } else { 0 });
        }
        if !counter.raw_value {
            return (Encoding::Binary, sizes);
        }
    }
    let sizes = records.map(|record| encoded_len(record, Encoding::Json));
    (Encoding::Json, sizes.collect())
}

/// The size of `record` in `encoding` (see [`sizes`]).
pub(crate) fn encoded_len<T: Serialize>(record: &T, encoding: Encoding) -> usize {
    let mut counter = Counter::default();
    let written = match encoding {
        Encoding::Json => serde_json::to_writer(&mut counter, record).is_ok(),
        Encoding::Binary => write_binary(&mut counter, record).is_ok(),
    };
    match written {
        true => counter.bytes,
        false => 0,
    }
}

/// Writes `value` as MessagePack, structs as maps, human-readable.
fn write_binary<T: Serialize, W: io::Write>(into: W, value: &T) -> Result<(), CodecError> {
    let mut serializer = rmp_serde::Serializer::new(into)
        .with_struct_map()
        .with_human_readable();
    value
        .serialize(&mut serializer)
        .map_err(|e| CodecError::Binary(e.to_string()))
}

/// Whether `record` comes back from MessagePack as the same JSON value.
fn round_trips<T: Record>(record: &T) -> bool {
    let mut bytes = TAG.to_vec();
    let back = write_binary(&mut bytes, record).and_then(|()| decode::<T>(&bytes));
    match back {
        Ok(back) => serde_json::to_value(record).ok() == serde_json::to_value(&back).ok(),
        Err(_) => false,
    }
}

/// An `io::Write` that only counts, and notes serde_json's `RawValue`
/// name written as one string (rmp writes a string's bytes in one write).
#[derive(Default)]
struct Counter {
    bytes: usize,
    raw_value: bool,
}

impl io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.bytes += bytes.len();
        self.raw_value |= bytes == RAW_VALUE_TOKEN;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::protocol::{Answer, KeyedBatch, Message, Passed};

    /// What users' records use of serde: renames, skipped fields,
    /// flattening, untagged and tagged enums, free-form JSON, maps.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Reading {
        #[serde(rename = "sensorId")]
        sensor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(flatten)]
        at: Place,
        value: Value,
        kind: Kind,
        extra: serde_json::Value,
        tags: BTreeMap<String, u64>,
        big: u64,
        ratio: f64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Place {
        site: String,
        floor: i32,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(f64),
        Text(String),
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Kind {
        Plain,
        Scaled { by: u32 },
    }

    fn reading(n: u32) -> Reading {
        Reading {
            sensor: format!("s-{n}"),
            note: n.is_multiple_of(2).then(|| "even".to_owned()),
            at: Place {
                site: "north".to_owned(),
                floor: -1,
            },
            value: match n % 2 {
                0 => Value::Number(f64::from(n) / 4.0),
                _ => Value::Text("high".to_owned()),
            },
            kind: match n % 2 {
                0 => Kind::Plain,
                _ => Kind::Scaled { by: n },
            },
            extra: serde_json::json!({"a": [1, "two", null], "b": {"c": true}}),
            tags: BTreeMap::from([("x".to_owned(), 1), ("y".to_owned(), u64::MAX)]),
            big: u64::MAX,
            ratio: 0.1 + 0.2,
        }
    }

    fn batch(records: Vec<Reading>, encoding: Encoding) -> KeyedBatch<Reading> {
        KeyedBatch {
            watermark: Some(7),
            records,
            relay: false,
            encoding,
        }
    }

    #[test]
    fn a_binary_batch_keeps_serdes_whole_data_model() -> Result<(), CodecError> {
        let records: Vec<Reading> = (0..4).map(reading).collect();
        let encoding = Encoding::Binary.for_records(records.first());
        assert_eq!(encoding, Encoding::Binary);
        let bytes = batch(records.clone(), encoding).encode()?;
        assert!(bytes.starts_with(&TAG));
        let back = KeyedBatch::<Reading>::decode(&bytes)?;
        assert_eq!(back, batch(records, Encoding::Binary));
        Ok(())
    }

    #[test]
    fn a_binary_batch_is_smaller_than_json() -> Result<(), CodecError> {
        let records: Vec<Reading> = (0..100).map(reading).collect();
        let json = batch(records.clone(), Encoding::Json).encode()?;
        let binary = batch(records, Encoding::Binary).encode()?;
        assert!(
            binary.len() * 10 < json.len() * 9,
            "{} bytes binary, {} as JSON",
            binary.len(),
            json.len()
        );
        Ok(())
    }

    #[test]
    fn json_bodies_are_read_whatever_the_setting() -> Result<(), CodecError> {
        let json = br#"{"watermark":7,"records":[[1,"a"]]}"#;
        let back = KeyedBatch::<(u32, String)>::decode(json)?;
        assert_eq!(back.records, vec![(1, "a".to_owned())]);
        assert_eq!(back.encoding, Encoding::Json);
        Ok(())
    }

    #[test]
    fn the_counted_size_is_the_size_sent() {
        let record = reading(3);
        for encoding in [Encoding::Json, Encoding::Binary] {
            let sent = encode(&record, encoding).map_or(0, |b| b.len());
            let tag = if encoding == Encoding::Binary { 2 } else { 0 };
            assert_eq!(encoded_len(&record, encoding) + tag, sent, "{encoding:?}");
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Raw {
        id: u32,
        body: Box<RawValue>,
    }

    #[test]
    fn records_only_json_can_carry_go_as_json() -> Result<(), CodecError> {
        let raw = serde_json::value::to_raw_value(&[1, 2])?;
        assert_eq!(Encoding::Binary.for_records(Some(&raw)), Encoding::Json);
        let record = Raw { id: 1, body: raw };
        assert_eq!(Encoding::Binary.for_records(Some(&record)), Encoding::Json);
        assert_eq!(
            Encoding::Json.for_records(Some(&reading(1))),
            Encoding::Json
        );
        assert_eq!(Encoding::Binary.for_records::<Raw>(None), Encoding::Binary);
        Ok(())
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct MaybeRaw {
        id: u32,
        body: Option<Box<RawValue>>,
    }

    #[test]
    fn a_call_with_a_raw_value_past_its_first_record_goes_as_json() -> Result<(), CodecError> {
        let records = vec![
            MaybeRaw { id: 1, body: None },
            MaybeRaw {
                id: 2,
                body: Some(serde_json::value::to_raw_value(&[1, 2])?),
            },
        ];
        let encoding = Encoding::Binary.for_records(records.first());
        assert_eq!(encoding, Encoding::Binary, "the first record round-trips");
        let batch = KeyedBatch {
            watermark: None,
            records,
            relay: false,
            encoding,
        };
        let bytes = batch.encode()?;
        assert!(bytes.starts_with(b"{"), "sent as JSON");
        let back = KeyedBatch::<MaybeRaw>::decode(&bytes)?;
        let bodies: Vec<_> = (back.records.iter())
            .map(|r| r.body.as_ref().map(|b| b.get().to_owned()))
            .collect();
        assert_eq!(bodies, vec![None, Some("[1,2]".to_owned())]);
        Ok(())
    }

    #[test]
    fn records_are_counted_in_the_encoding_they_go_in() -> Result<(), CodecError> {
        let readings = [reading(1), reading(2)];
        let (encoding, counted) = sizes(readings.iter(), Encoding::Binary);
        assert_eq!(encoding, Encoding::Binary);
        let binary: Vec<_> = (readings.iter())
            .map(|r| encode(r, Encoding::Binary).map_or(0, |b| b.len() - TAG.len()))
            .collect();
        assert_eq!(counted, binary);
        let records = [
            MaybeRaw { id: 1, body: None },
            MaybeRaw {
                id: 2,
                body: Some(serde_json::value::to_raw_value(&[1, 2])?),
            },
        ];
        let (encoding, counted) = sizes(records.iter(), Encoding::Binary);
        assert_eq!(encoding, Encoding::Json, "a RawValue in the second record");
        let json: Vec<_> = (records.iter())
            .map(|r| serde_json::to_vec(r).map_or(0, |b| b.len()))
            .collect();
        assert_eq!(counted, json);
        Ok(())
    }

    #[test]
    fn an_answer_is_binary_unless_it_carries_records_for_the_next_stage() -> Result<(), CodecError>
    {
        let mut answer = Answer {
            out: vec![reading(2)],
            encoding: Encoding::Binary,
            ..Answer::default()
        };
        let bytes = answer.encode()?;
        assert!(bytes.starts_with(&TAG));
        assert_eq!(Answer::<Reading>::decode(&bytes)?.out, answer.out);
        answer.passed.push(Passed {
            group: 1,
            from: 0,
            records: vec![serde_json::value::to_raw_value(&3)?],
        });
        let bytes = answer.encode()?;
        assert!(bytes.starts_with(b"{"));
        let back = Answer::<Reading>::decode(&bytes)?;
        assert_eq!(back.passed.len(), 1);
        Ok(())
    }

    #[test]
    fn bytes_that_are_neither_say_so() {
        let error = KeyedBatch::<u32>::decode(&[0xC1, 0x01, 0xFF]).map(|_| ());
        assert!(matches!(error, Err(CodecError::Binary(_))), "{error:?}");
        let error = KeyedBatch::<u32>::decode(b"\x00").map(|_| ());
        assert!(matches!(error, Err(CodecError::Json(_))), "{error:?}");
    }
}
