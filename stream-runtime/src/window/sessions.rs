//! Session windows: one entry per key, holding its sessions and their
//! records. A record opens `[t, t + gap)` and merges every session of its
//! key that overlaps or touches it (Flink's `TimeWindow.intersects`: two
//! records exactly one gap apart are one session); each session is folded
//! when it fires, so merging needs no merge function.
//!
//! A merged session is a new window: it fires when the clock passes its
//! own end, whether or not a part of it fired before (Flink's
//! `MergingWindowSet`). A merge that ends at or before the clock fires at
//! once, with the updated result.

use super::stage::{failed, session_entry, Applied, Entry, Session, WinCx};
use super::{Window, WindowFn, WindowKind, Windowed, Windowing};
use crate::guard::{guarded, Panicked, RecordFailed, StageError};
use crate::keyed::{ByKey, Cx, GroupState, Scope};
use crate::record::Record;
use crate::time::Millis;

/// What a session window needs of its types: keys and values it copies
/// into results, and entries it stores.
impl<KF, K, In, V, W> Windowing<KF, K, In, V, W>
where
    KF: Fn(&In) -> K,
    K: Clone,
    V: Clone,
    W: WindowFn<V>,
    W::Acc: Clone,
    Entry<K, W, V>: Record,
{
    fn gap(&self) -> Millis {
        match self.spec.kind() {
            WindowKind::Session { gap } => gap,
            _ => 1,
        }
    }

    /// Adds each record to its key's sessions, merging those it bridges.
    /// A merged session already past its end emits its updated result at
    /// once; one past its lateness takes nothing and the record is late.
    pub(super) fn add_sessions(&self, batch: ByKey<In>, cx: WinCx<'_, '_, In, K, W, V>) -> Applied {
        let Cx {
            state,
            scope,
            out,
            late,
        } = cx;
        let threshold = self.threshold(scope);
        let mut entries: Vec<Option<Entry<K, W, V>>> = Vec::new();
        for (slot, key) in batch.keys.iter().enumerate() {
            let index = crate::keyed::by_key_slots(&batch, slot);
            let stored = state.get::<Entry<K, W, V>>(&session_entry(key));
            entries.push(stored.map_err(failed(index))?);
        }
        for (index, (slot, record)) in batch.records.into_iter().enumerate() {
            let time = (self.stamp.time)(&record).unwrap_or(scope.now);
            let entry = entries[slot].get_or_insert_with(Entry::<K, W, V>::default);
            let opened = Window {
                start: time,
                end: time.saturating_add(self.gap()),
            };
            let overlaps = |s: &Session<V>| merges(s.window(), opened);
            let merged = entry
                .sessions
                .iter()
                .filter(|s| overlaps(s))
                .fold(opened, |w, s| Window {
                    start: w.start.min(s.start),
                    end: w.end.max(s.end),
                });
            if self.too_late(&merged, scope) {
                late(record);
                continue;
            }
            let name = session_entry(&batch.keys[slot]);
            guarded(|| {
                let key = self.by.key(&record);
                let value = (self.stamp.value)(record);
                let (mut joined, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut entry.sessions)
                    .into_iter()
                    .partition(overlaps);
                entry.sessions = kept;
                // Not fired as this window, even if a part of it was.
                let mut session = Session {
                    start: merged.start,
                    end: merged.end,
                    fired: false,
                    items: joined.iter_mut().flat_map(|s| s.items.drain(..)).collect(),
                };
                session.items.push((time, value));
                if merged.max_time() <= threshold {
                    self.result(&key, &session).map(&mut *out);
                    session.fired = true;
                }
                let at = self.next_timer(&merged, session.fired);
                scope.timers.add(self.stamp.domain, at, &name);
                entry.sessions.push(session);
                entry.key = Some(key);
                Ok(())
            })
            .map_err(|error: Panicked| RecordFailed::new(index, error))?;
        }
        for (key, entry) in batch.keys.iter().zip(entries) {
            match entry {
                // Every record of a key without sessions was late.
                Some(entry) if entry.sessions.is_empty() => state.clear(&session_entry(key)),
                Some(entry) => state.set(&session_entry(key), &entry).map_err(failed(0))?,
                None => {}
            }
        }
        Ok(())
    }

    /// A key's session timer: emits each session whose end the clock has
    /// reached, and removes those past their lateness.
    pub(super) fn fire_sessions(
        &self,
        state: &mut GroupState,
        name: &str,
        scope: &mut Scope<'_>,
        out: &mut dyn FnMut(Windowed<K, W::Acc>),
    ) -> Result<(), StageError> {
        let threshold = self.threshold(scope);
        let Some(mut entry) = state.get::<Entry<K, W, V>>(name)? else {
            return Ok(());
        };
        let Some(key) = entry.key.clone() else {
            state.clear(name);
            return Ok(());
        };
        for session in &mut entry.sessions {
            if !session.fired && session.window().max_time() <= threshold {
                self.result(&key, session).map(&mut *out);
                session.fired = true;
            }
        }
        entry
            .sessions
            .retain(|s| !(s.fired && self.done(&s.window(), scope)));
        if entry.sessions.is_empty() {
            state.clear(name);
            return Ok(());
        }
        for session in &entry.sessions {
            let at = self.next_timer(&session.window(), session.fired);
            scope.timers.add(self.stamp.domain, at, name);
        }
        Ok(state.set(name, &entry)?)
    }

    /// Drops the key's sessions that were due to fire (see
    /// [`KeyedStage::forget`](crate::keyed::KeyedStage::forget)).
    pub(super) fn forget_sessions(
        &self,
        state: &mut GroupState,
        name: &str,
        scope: &Scope<'_>,
    ) -> Result<(), StageError> {
        let threshold = self.threshold(scope);
        let Some(mut entry) = state.get::<Entry<K, W, V>>(name)? else {
            return Ok(());
        };
        (entry.sessions).retain(|s| s.fired || s.window().max_time() > threshold);
        if entry.sessions.is_empty() {
            state.clear(name);
            return Ok(());
        }
        Ok(state.set(name, &entry)?)
    }

    /// A session's result: its records folded in time order (`None` for a
    /// session with no records, which is never stored).
    fn result(&self, key: &K, session: &Session<V>) -> Option<Windowed<K, W::Acc>> {
        let mut items: Vec<&(Millis, V)> = session.items.iter().collect();
        items.sort_by_key(|(time, _)| *time);
        let mut acc = None;
        for (_, value) in items {
            acc = Some(self.agg.add(acc, value.clone()));
        }
        Some(Windowed {
            key: key.clone(),
            start: session.start,
            end: session.end,
            value: acc?,
        })
    }
}

/// Whether two session windows are one session: they overlap or touch, as
/// Flink's `TimeWindow.intersects` (`[0, 3000)` and `[3000, 6000)` merge).
fn merges(a: Window, b: Window) -> bool {
    a.start <= b.end && b.start <= a.end
}
