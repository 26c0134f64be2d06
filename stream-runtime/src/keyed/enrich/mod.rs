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

/// A key's cached answer, in its key group's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cached {
    /// When it was answered (wall clock).
    at: Millis,
    /// The answer.
    answer: serde_json::Value,
}

impl<KF, K, F, Res> Enriching<KF, K, F, Res> {
    /// Whether a cached answer taken at `at` still holds at `now`.
    fn fresh(&self, at: Millis, now: Millis) -> bool {
        let ttl = self.options.cache.map_or(0, |ttl| ttl.as_millis());
        i128::from(now) - i128::from(at) < ttl as i128
    }

    /// The cached answer of each key of the batch that still holds.
    fn hits<In>(&self, batch: &ByKey<In>, state: &GroupState, now: Millis) -> Vec<Option<Cached>> {
        batch
            .keys
            .iter()
            .map(|key| match self.options.cache {
                // An entry that does not decode is no hit: the key is
                // looked up again and its entry overwritten.
                Some(_) => state.get::<Cached>(&state_key(key)).ok().flatten(),
                None => None,
            })
            .map(|cached| cached.filter(|c| self.fresh(c.at, now)))
            .collect()
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
        match self.options.cache {
            Some(_) => batch.keys.iter().map(|key| state_key(key)).collect(),
            None => Vec::new(),
        }
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
        let hits = self.hits(batch, state, now);
        let cached = self.options.cache.is_some();
        let mut planned: Vec<Planned> = Vec::new();
        // With a cache, the call each key's records share.
        let mut of_key: Vec<Option<usize>> = vec![None; batch.keys.len()];
        for (index, (slot, record)) in batch.records.iter().enumerate() {
            if hits[*slot].is_some() {
                continue;
            }
            if let (true, Some(call)) = (cached, of_key[*slot]) {
                planned[call].records.push(index);
                continue;
            }
            let lookup = guarded(|| Ok::<_, StageError>((self.lookup)(record)))
                .map_err(|error| RecordFailed::new(index, error))?;
            let id = call_id(&lookup.call, &batch.keys[*slot]);
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
    /// not decode as `Res`, goes to the dead-letter output with why.
    fn apply(&self, batch: ByKey<In>, cx: Cx<'_, '_, In, (In, Res)>) -> Result<(), RecordFailed> {
        let Cx {
            state, scope, out, ..
        } = cx;
        let hits = self.hits(&batch, state, scope.now);
        let count = batch.records.len();
        let mut records: Vec<Option<(usize, In)>> = batch.records.into_iter().map(Some).collect();
        let mut answers: Vec<Option<Answered>> = vec![None; count];
        let mut order: Vec<usize> = Vec::with_capacity(count);
        for (index, record) in records.iter().enumerate() {
            if let Some(Some(hit)) = record.as_ref().map(|(slot, _)| &hits[*slot]) {
                answers[index] = Some(Ok(hit.answer.clone()));
                order.push(index);
            }
        }
        for (answered, answer) in std::mem::take(&mut scope.looked) {
            if let (Some(_), Ok(value)) = (self.options.cache, &answer) {
                if let Some(Some(Some((slot, _)))) = answered.first().map(|i| records.get(*i)) {
                    let cached = Cached {
                        at: scope.now,
                        answer: value.clone(),
                    };
                    let name = state_key(&batch.keys[*slot]);
                    state
                        .set(&name, &cached)
                        .map_err(|e| RecordFailed::new(answered[0], e))?;
                }
            }
            for index in answered {
                if let Some(slot) = answers.get_mut(index) {
                    *slot = Some(answer.clone());
                    order.push(index);
                }
            }
        }
        if self.options.order == Order::Ordered {
            order.sort_unstable();
        }
        for index in order {
            let (Some((_, record)), Some(answer)) = (records[index].take(), answers[index].take())
            else {
                continue;
            };
            match answer.and_then(|value| decode::<Res>(value)) {
                Ok(answer) => out((record, answer)),
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
