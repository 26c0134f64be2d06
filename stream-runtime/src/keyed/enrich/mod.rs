//! `enrich`: a keyed stage that calls, per record, another Restate
//! service's handler or an HTTP endpoint, and emits the record with the
//! answer (Flink's `AsyncDataStream`, run durably in the record's key
//! group; see [`crate::lookup`]).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use stream_runtime::lookup::{Enrich, Lookup};
//! use stream_runtime::{CollectSink, InMemorySource, Pipeline};
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! struct Profile { name: String }
//!
//! // Each click of (user, page), with the user's profile from the
//! // `Profiles` service, kept a minute per user.
//! let enriched = Pipeline::named("Enriched")
//!     .source(InMemorySource::new(vec![(7u32, "/home".to_string())]))
//!     .key_by(|click| click.0)
//!     .enrich_with(Enrich::new().in_flight(32).cache(std::time::Duration::from_secs(60)), |click| {
//!         Lookup::<Profile>::service("Profiles", "get", &click.0)
//!     })
//!     .map(|(click, profile)| (click.1, profile.name))
//!     .sink(CollectSink::new());
//! # let _ = enriched;
//! ```

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{state_key, ByKey, Cx, GroupState, KeySelector, KeyedStage, Scope};
use crate::guard::{guarded, RecordFailed, StageError};
use crate::lookup::{call_id, Answered, Enrich, Lookup, Order, Planned};
use crate::record::Record;
use crate::time::Millis;

/// The enrichment stage: `key_by`'s key, the user's lookup function, and
/// how it calls.
pub struct Enriching<KF, K, F, Res> {
    by: KeySelector<KF, K>,
    lookup: F,
    options: Enrich,
    answer: PhantomData<fn() -> Res>,
}

impl<KF, K, F, Res> Enriching<KF, K, F, Res> {
    pub(crate) fn new(by: KeySelector<KF, K>, lookup: F, options: Enrich) -> Self {
        Self {
            by,
            lookup,
            options,
            answer: PhantomData,
        }
    }
}

/// What a key's state entry keeps for the stage: how many of its batches
/// called, and its cached answer.
///
/// The count is part of each call's idempotency key: a batch tried again
/// (without a record that failed after the stage, as a new invocation)
/// sends its calls under the same keys, so Restate answers them from the
/// first try, while the key's next batch calls afresh. The count moves on
/// only when a call of the group completes, since only then is its state
/// written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cached {
    /// Batches of the key that called, and completed.
    #[serde(default)]
    calls: u64,
    /// When the cached answer was taken (wall clock), and the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<(Millis, serde_json::Value)>,
}

impl<KF, K, F, Res> Enriching<KF, K, F, Res> {
    /// Whether an answer taken at `at` still holds at `now`.
    fn fresh(&self, at: Millis, now: Millis) -> bool {
        let ttl = self.options.cache.map_or(0, |ttl| ttl.as_millis());
        i128::from(now) - i128::from(at) < ttl as i128
    }

    /// Each key's entry (one that does not decode is as none: the key is
    /// looked up again and its entry overwritten).
    fn entries<In>(&self, batch: &ByKey<In>, state: &GroupState) -> Vec<Cached> {
        (batch.keys.iter())
            .map(|key| state.get::<Cached>(&state_key(key)).ok().flatten())
            .map(Option::unwrap_or_default)
            .collect()
    }

    /// The cached answer of an entry, if the stage caches and it holds.
    fn hit<'c>(&self, entry: &'c Cached, now: Millis) -> Option<&'c serde_json::Value> {
        self.options.cache?;
        match &entry.answer {
            Some((at, answer)) if self.fresh(*at, now) => Some(answer),
            _ => None,
        }
    }
}

impl<In, KF, K, F, Res> KeyedStage<In> for Enriching<KF, K, F, Res>
where
    In: Record,
    KF: Fn(&In) -> K + Send + Sync + 'static,
    K: 'static,
    F: Fn(&In) -> Lookup<Res> + Send + Sync + 'static,
    Res: DeserializeOwned + 'static,
{
    type Out = (In, Res);
    type State = Cached;

    fn encode_key(&self, record: &In) -> Result<String, serde_json::Error> {
        self.by.encode(record)
    }

    fn entries(&self, batch: &ByKey<In>, _scope: &Scope<'_>) -> Vec<String> {
        batch.keys.iter().map(|key| state_key(key)).collect()
    }

    fn looks_up(&self) -> bool {
        true
    }

    fn lookup_options(&self) -> Enrich {
        self.options.clone()
    }

    /// One call per record, or with a cache one per key it does not hold
    /// (with the key's first record's request).
    fn lookups(
        &self,
        batch: &ByKey<In>,
        state: &GroupState,
        now: Millis,
    ) -> Result<Vec<Planned>, RecordFailed> {
        let entries = self.entries(batch, state);
        let cached = self.options.cache.is_some();
        let mut planned: Vec<Planned> = Vec::new();
        // With a cache, the call each key's records share.
        let mut of_key: Vec<Option<usize>> = vec![None; batch.keys.len()];
        // How many calls of each key and request came before, in the batch.
        let mut seen = std::collections::HashMap::<String, u32>::new();
        for (index, (slot, record)) in batch.records.iter().enumerate() {
            let entry = &entries[*slot];
            if self.hit(entry, now).is_some() {
                continue;
            }
            if let (true, Some(call)) = (cached, of_key[*slot]) {
                planned[call].records.push(index);
                continue;
            }
            let lookup = guarded(|| Ok::<_, StageError>((self.lookup)(record)))
                .map_err(|error| RecordFailed::new(index, error))?;
            let id = call_id(&lookup.call, &batch.keys[*slot], entry.calls);
            let nth = seen.entry(id.clone()).or_default();
            let id = match lookup.call.key {
                Some(_) => id,
                None => format!("{id}:{nth}"),
            };
            *nth += 1;
            of_key[*slot] = Some(planned.len());
            planned.push(Planned {
                call: lookup.call,
                id,
                records: vec![index],
            });
        }
        Ok(planned)
    }

    /// Emits each record with its answer, in its order or its call's
    /// (see [`Order`]); a record whose call failed, or whose answer does
    /// not decode as `Res`, goes to the dead-letter output with why. A
    /// key that called counts one more batch, and with a cache keeps the
    /// answer that decoded.
    fn apply(&self, batch: ByKey<In>, cx: Cx<'_, '_, In, (In, Res)>) -> Result<(), RecordFailed> {
        let Cx {
            state, scope, out, ..
        } = cx;
        let mut entries = self.entries(&batch, state);
        let count = batch.records.len();
        let mut records: Vec<Option<(usize, In)>> = batch.records.into_iter().map(Some).collect();
        let mut answers: Vec<Option<Answered>> = vec![None; count];
        let mut order: Vec<usize> = Vec::with_capacity(count);
        for (index, record) in records.iter().enumerate() {
            let Some((slot, _)) = record else { continue };
            if let Some(hit) = self.hit(&entries[*slot], scope.now) {
                answers[index] = Some(Ok(hit.clone()));
                order.push(index);
            }
        }
        let mut called = vec![false; batch.keys.len()];
        for (answered, answer) in std::mem::take(&mut scope.looked) {
            for index in answered {
                if let (Some(slot), Some(Some((key, _)))) =
                    (answers.get_mut(index), records.get(index))
                {
                    *slot = Some(answer.clone());
                    called[*key] = true;
                    order.push(index);
                }
            }
        }
        if self.options.order == Order::Ordered {
            order.sort_unstable();
        }
        for index in order {
            let (Some((slot, record)), Some(answer)) =
                (records[index].take(), answers[index].take())
            else {
                continue;
            };
            let decoded = answer.and_then(|value| Ok((decode::<Res>(value.clone())?, value)));
            match decoded {
                Ok((answer, value)) => {
                    let entry = &mut entries[slot];
                    if self.options.cache.is_some() && self.hit(entry, scope.now).is_none() {
                        entry.answer = Some((scope.now, value));
                    }
                    guarded(|| {
                        out((record, answer));
                        Ok::<_, StageError>(())
                    })
                    .map_err(|error| RecordFailed::new(index, error))?;
                }
                Err(reason) => scope
                    .dropped
                    .push((serde_json::to_value(&record).ok(), reason)),
            }
        }
        // A record its lookups did not answer: none, unless the handler
        // and the stage disagree; it is dead-lettered, never lost unseen.
        for (_, record) in records.into_iter().flatten() {
            let reason = "the lookup gave no answer".to_owned();
            scope
                .dropped
                .push((serde_json::to_value(&record).ok(), reason));
        }
        for ((key, mut entry), called) in batch.keys.iter().zip(entries).zip(called) {
            if called {
                entry.calls += 1;
                state
                    .set(&state_key(key), &entry)
                    .map_err(|e| RecordFailed::new(0, e))?;
            }
        }
        Ok(())
    }
}

/// An answer as the type the stage emits, or why it is not one.
fn decode<Res: DeserializeOwned>(value: serde_json::Value) -> Result<Res, String> {
    serde_json::from_value(value).map_err(|e| {
        format!(
            "the answer does not decode as `{}`: {e}",
            std::any::type_name::<Res>()
        )
    })
}

#[cfg(test)]
mod tests;
