//! Tumbling and sliding windows: one pane entry per window and key group.

use std::collections::BTreeMap;

use super::stage::{failed, pane_entry, Applied, Entry, WinCx};
use super::{Window, WindowFn, Windowed, Windowing};
use crate::guard::{guarded, Panicked, RecordFailed, StageError};
use crate::keyed::{ByKey, Cx, GroupState, Scope};
use crate::record::Record;

/// What a pane needs of its types: keys and results it copies out, and
/// entries it stores.
impl<KF, K, In, V, W> Windowing<KF, K, In, V, W>
where
    KF: Fn(&In) -> K,
    K: Clone,
    V: Clone,
    W: WindowFn<V>,
    W::Acc: Clone,
    Entry<K, W, V>: Record,
{
    /// Adds each record to its key in every window it falls in; a window
    /// whose end the clock has passed (inside the allowed lateness) emits
    /// the key's updated result at once. A record with no window left is
    /// late.
    pub(super) fn add_panes(&self, batch: ByKey<In>, cx: WinCx<'_, '_, In, K, W, V>) -> Applied {
        let Cx {
            state,
            scope,
            out,
            late,
        } = cx;
        let threshold = self.threshold(scope);
        let mut panes: BTreeMap<Window, Entry<K, W, V>> = BTreeMap::new();
        for (index, (slot, record)) in batch.records.into_iter().enumerate() {
            let time = (self.stamp.time)(&record).unwrap_or(scope.now);
            let windows: Vec<Window> = (self.spec.windows(time).into_iter())
                .filter(|window| !self.too_late(window, scope))
                .collect();
            if windows.is_empty() {
                late(record);
                continue;
            }
            for window in &windows {
                if !panes.contains_key(window) {
                    let name = pane_entry(window);
                    let stored = state.get::<Entry<K, W, V>>(&name);
                    let pane = stored.map_err(failed(index))?;
                    if pane.is_none() {
                        scope
                            .timers
                            .add(self.stamp.domain, window.max_time(), &name);
                    }
                    panes.insert(*window, pane.unwrap_or_default());
                }
            }
            let key_json = &batch.keys[slot];
            guarded(|| {
                let key = self.by.key(&record);
                let value = (self.stamp.value)(record);
                for window in &windows {
                    let Some(pane) = panes.get_mut(window) else {
                        continue;
                    };
                    let acc = pane.keys.remove(key_json).map(|(_, acc)| acc);
                    let acc = self.agg.add(acc, value.clone());
                    if window.max_time() <= threshold {
                        // Past its end, inside the lateness: emit again.
                        out(Windowed {
                            key: key.clone(),
                            start: window.start,
                            end: window.end,
                            value: acc.clone(),
                        });
                        if !pane.fired {
                            pane.fired = true;
                            let cleanup = self.next_timer(window, true);
                            scope
                                .timers
                                .add(self.stamp.domain, cleanup, &pane_entry(window));
                        }
                    }
                    pane.keys.insert(key_json.clone(), (key.clone(), acc));
                }
                Ok(())
            })
            .map_err(|error: Panicked| RecordFailed::new(index, error))?;
        }
        for (window, pane) in panes {
            state.set(&pane_entry(&window), &pane).map_err(failed(0))?;
        }
        Ok(())
    }

    /// A pane's timer: emits every key's result once the clock reaches the
    /// window's end, and removes the pane once its lateness has passed.
    pub(super) fn fire_pane(
        &self,
        state: &mut GroupState,
        name: &str,
        window: Window,
        scope: &mut Scope<'_>,
        out: &mut dyn FnMut(Windowed<K, W::Acc>),
    ) -> Result<(), StageError> {
        let threshold = self.threshold(scope);
        let Some(mut pane) = state.get::<Entry<K, W, V>>(name)? else {
            return Ok(()); // fired and removed before
        };
        if !pane.fired && window.max_time() <= threshold {
            for (key, acc) in pane.keys.values() {
                out(Windowed {
                    key: key.clone(),
                    start: window.start,
                    end: window.end,
                    value: acc.clone(),
                });
            }
            pane.fired = true;
        }
        if pane.fired && self.done(&window, scope) {
            state.clear(name);
            return Ok(());
        }
        scope.timers.add(
            self.stamp.domain,
            self.next_timer(&window, pane.fired),
            name,
        );
        Ok(state.set(name, &pane)?)
    }
}
