//! A key group's records as its call needs them: its batch split by key
//! (`by_key`), and what a keyed stage passes on split by the next stage's
//! key group (`by_group`), folded where the next stage combines.

use std::collections::{BTreeMap, HashMap};

use crate::group::{key_group, ByKey, Folded};
use crate::guard::{guarded, RecordFailed, StageError};
use crate::stages::Level;

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
                let group = key_group(&key, groups);
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
