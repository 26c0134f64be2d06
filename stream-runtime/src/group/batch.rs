//! A key group's batch as plain code: which keys it touches, what the
//! keyed operator makes of each record, and what to write back. The
//! `process` handler loads and stores the state around these.

use std::collections::{BTreeMap, HashMap};

use super::Folded;
use crate::guard::{guarded, RecordFailed, StageError};
use crate::stages::Level;

/// A key group's batch: the distinct keys it touches (encoded, in order of
/// first appearance), and its records in order, each with its key's slot.
#[derive(Debug)]
pub struct ByKey<M> {
    /// The distinct encoded keys.
    pub keys: Vec<String>,
    /// The records, each with the index of its key in `keys`.
    pub records: Vec<(usize, M)>,
}

/// Encodes each record's key. A record whose key cannot be encoded (or
/// whose key function panics) fails the batch with its index.
pub(crate) fn by_key<L: Level>(
    flow: &L,
    batch: Vec<L::Mid>,
) -> Result<ByKey<L::Mid>, RecordFailed> {
    let mut slots: HashMap<String, usize> = HashMap::new();
    let mut keys: Vec<String> = Vec::new();
    let mut records = Vec::with_capacity(batch.len());
    for (index, record) in batch.into_iter().enumerate() {
        let key = guarded(|| Ok::<_, StageError>(flow.encode_key(&record)?))
            .map_err(|error| RecordFailed::new(index, error))?;
        let slot = *slots.entry(key).or_insert_with_key(|key| {
            keys.push(key.clone());
            keys.len() - 1
        });
        records.push((slot, record));
    }
    Ok(ByKey { keys, records })
}

/// Records a keyed stage passes on to the next, by the next stage's key
/// group, each group's in output order; a record whose key cannot be
/// encoded (or whose key function panics) comes back with why.
pub(crate) struct ByGroup<M> {
    pub groups: BTreeMap<u32, Vec<M>>,
    pub failed: Vec<(M, StageError)>,
}

/// Splits `records` by the key group of `next`'s key, folding each key's
/// records into one where `next` has a combiner.
pub(crate) fn by_group<L: Level>(next: &L, records: Vec<L::Mid>) -> ByGroup<L::Mid> {
    let groups = next.config().key_groups;
    let combiner = next.combiner();
    let mut folded: BTreeMap<u32, Folded<L::Mid>> = BTreeMap::new();
    let mut failed = Vec::new();
    for record in records {
        let key = guarded(|| Ok::<_, StageError>(next.encode_key(&record)?));
        match key {
            Ok(key) => {
                let group = super::key_group(&key, groups);
                let batch = folded.entry(group).or_default();
                let key_of = |m: &L::Mid| guarded(|| Ok::<_, StageError>(next.encode_key(m)?)).ok();
                batch.push(key, record, combiner.as_ref(), key_of);
            }
            Err(error) => failed.push((record, error)),
        }
    }
    let groups = folded.into_iter().map(|(g, f)| (g, f.records)).collect();
    ByGroup { groups, failed }
}

/// The index of the first record of key `slot`.
pub(crate) fn by_key_slots<M>(batch: &ByKey<M>, slot: usize) -> usize {
    batch
        .records
        .iter()
        .position(|(s, _)| *s == slot)
        .unwrap_or(0)
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
    fn a_batch_names_each_distinct_key_once_in_order() {
        let flow = stages(
            Pipeline::named("T")
                .source(Sequence::new())
                .key_by(|n| n % 2)
                .reduce(|a, b| a + b),
            CollectSink::<u64>::new(),
        );
        let grouped = by_key(&*flow.first, vec![1, 2, 3, 4]).expect("keys encode");
        assert_eq!(grouped.keys, ["1", "0"]);
        let slots: Vec<usize> = grouped.records.iter().map(|(slot, _)| *slot).collect();
        assert_eq!(slots, [0, 1, 0, 1]);
        assert_eq!(by_key_slots(&grouped, 1), 1);
    }

    #[test]
    fn records_passed_on_fold_per_key_where_the_next_stage_combines() {
        let next = |emit| {
            stages(
                Pipeline::named("T")
                    .key_groups(1)
                    .source(Sequence::new())
                    .key_by(|n| n % 2)
                    .reduce_emitting(|a, b| a + b, emit),
                CollectSink::<u64>::new(),
            )
        };
        let latest = next(crate::keyed::Emit::LatestPerBatch);
        // 1 + 3 would be even: that fold is not kept.
        let by = by_group(&*latest.first, vec![1, 2, 3, 4]);
        assert_eq!(by.groups.get(&0), Some(&vec![1, 6, 3]));
        let every = next(crate::keyed::Emit::EveryUpdate);
        let by = by_group(&*every.first, vec![1, 2, 3, 4]);
        assert_eq!(by.groups.get(&0), Some(&vec![1, 2, 3, 4]));
    }

    #[test]
    fn cleared_state_is_removed_and_absent_state_untouched() {
        assert_eq!(write_back(true, Some(1)), WriteBack::Set(1));
        assert_eq!(write_back(false, Some(1)), WriteBack::Set(1));
        assert_eq!(write_back::<u8>(true, None), WriteBack::Clear);
        assert_eq!(write_back::<u8>(false, None), WriteBack::Nothing);
    }
}
