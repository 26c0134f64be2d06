//! A key group's batch as plain code: which keys it touches, what the
//! keyed operator makes of each record, and what to write back. The
//! `process` handler loads and stores the state around these.

use std::collections::HashMap;

use crate::guard::{guarded, RecordFailed};
use crate::stages::Dataflow;

/// A batch's records with the distinct keys they touch, in order of first
/// appearance; each record names its key's slot.
pub(crate) struct ByKey<M> {
    pub keys: Vec<String>,
    pub records: Vec<(usize, M)>,
}

/// Encodes each record's key. A record whose key cannot be encoded (or
/// whose key function panics) fails the batch with its index.
pub(crate) fn by_key<D: Dataflow>(
    flow: &D,
    batch: Vec<D::Mid>,
) -> Result<ByKey<D::Mid>, RecordFailed> {
    let mut slots: HashMap<String, usize> = HashMap::new();
    let mut keys: Vec<String> = Vec::new();
    let mut records = Vec::with_capacity(batch.len());
    for (index, record) in batch.into_iter().enumerate() {
        let key = guarded(|| {
            flow.encode_key(&record)
                .map_err(|e| format!("cannot encode the record's key: {e}"))
        })
        .map_err(|error| RecordFailed { index, error })?;
        let slot = *slots.entry(key).or_insert_with_key(|key| {
            keys.push(key.clone());
            keys.len() - 1
        });
        records.push((slot, record));
    }
    Ok(ByKey { keys, records })
}

/// Applies the keyed operator, and the operators after it, to each record
/// in order, updating its key's state in `states`. The first record that
/// fails ends the batch with its index; the caller then writes no state.
pub(crate) fn apply<D: Dataflow>(
    flow: &D,
    records: Vec<(usize, D::Mid)>,
    states: &mut [Option<D::State>],
) -> Result<Vec<D::Out>, RecordFailed> {
    let mut out = Vec::new();
    for (index, (slot, record)) in records.into_iter().enumerate() {
        let state = &mut states[slot];
        let out = &mut out;
        guarded(|| {
            flow.apply_keyed(state, record, out)
                .map_err(|e| e.to_string())
        })
        .map_err(|error| RecordFailed { index, error })?;
    }
    Ok(out)
}

/// What to do with a key's stored state after a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WriteBack<S> {
    /// Store this state.
    Set(S),
    /// Remove the stored state (the operator cleared it).
    Clear,
    /// Nothing was stored and nothing is.
    Nothing,
}

/// The write for a key that had state (`existed`) and now has `state`.
pub(crate) fn write_back<S>(existed: bool, state: Option<S>) -> WriteBack<S> {
    match state {
        Some(state) => WriteBack::Set(state),
        None if existed => WriteBack::Clear,
        None => WriteBack::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::stages;
    use crate::{CollectSink, Pipeline, Sequence};

    #[test]
    fn a_batch_folds_each_key_in_order_and_names_a_failing_record() {
        let flow = stages(
            Pipeline::named("T")
                .source(Sequence::new())
                .key_by(|n| n % 2)
                .reduce(|a, b| {
                    assert_ne!(b, 7, "poisoned");
                    a + b
                }),
            CollectSink::<u64>::new(),
        );
        let grouped = by_key(&flow, vec![1, 2, 3, 4]).expect("keys encode");
        assert_eq!(grouped.keys, ["1", "0"]);
        let mut states = vec![Some(10), None];
        let out = apply(&flow, grouped.records, &mut states).expect("no panic");
        assert_eq!(out, [11, 2, 14, 6]);
        assert_eq!(states, [Some(14), Some(6)]);

        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let grouped = by_key(&flow, vec![1, 3, 7]).expect("keys encode");
        let failed = apply(&flow, grouped.records, &mut [None]);
        std::panic::set_hook(quiet);
        let failed = failed.expect_err("record 2 panics");
        assert_eq!(failed.index, 2);
        assert!(failed.error.contains("poisoned"), "{}", failed.error);
    }

    #[test]
    fn cleared_state_is_removed_and_absent_state_untouched() {
        assert_eq!(write_back(true, Some(1)), WriteBack::Set(1));
        assert_eq!(write_back(false, Some(1)), WriteBack::Set(1));
        assert_eq!(write_back::<u8>(true, None), WriteBack::Clear);
        assert_eq!(write_back::<u8>(false, None), WriteBack::Nothing);
    }
}
