//! `Windowing`: the keyed window stage, with its state entries (a pane per
//! window and key group, or one key's sessions) and how it applies batches
//! and fires timers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Window, WindowFn, WindowKind, WindowSpec, WindowTime, Windowed};
use crate::guard::{RecordFailed, StageError};
use crate::keyed::{
    ByKey, Cx, Due, GroupState, KeyEncoder, KeySelector, KeyedStage, Scope, TimeDomain,
};
use crate::record::Record;
use crate::time::Millis;

/// `key_by(..) |> window(spec) |> aggregate(..)` (or `reduce`): a keyed
/// window stage.
///
/// Tumbling and sliding windows keep one state entry per window and key
/// group (`w:<start>:<end>`, every key's accumulator in it), so a batch
/// reads and writes one entry per window it touches, whatever its number
/// of keys. Session windows merge per key, so they keep one entry per key
/// (`s:<json key>`) with its sessions and their records.
pub struct Windowing<KF, K, In, V, W> {
    pub(super) by: KeySelector<KF, K>,
    pub(super) spec: WindowSpec,
    pub(super) stamp: Stamp<In, V>,
    pub(super) agg: W,
}

impl<KF, K, In, V, W> crate::keyed::Chainable for Windowing<KF, K, In, V, W> {}

/// A window's clock for records of type `In`, taken where the window's
/// domain was checked (on `window`), so no later bound repeats that error.
pub struct Stamp<In, V> {
    pub(super) time: fn(&In) -> Option<Millis>,
    pub(super) value: fn(In) -> V,
    pub(super) domain: TimeDomain,
}

impl<In, V> Stamp<In, V> {
    /// The clock of domain `D`.
    pub fn of<D: WindowTime<In, Value = V>>() -> Self {
        Self {
            time: D::time,
            value: D::value,
            domain: D::DOMAIN,
        }
    }
}

impl<KF, K, In, V, W> Windowing<KF, K, In, V, W> {
    /// Keys records with `key_fn` and folds each key's windows, of `spec`
    /// on the clock `stamp`, with `agg`.
    pub fn new<D>(
        key_fn: KF,
        encode: KeyEncoder<K>,
        spec: WindowSpec<D>,
        stamp: Stamp<In, V>,
        agg: W,
    ) -> Self {
        Self {
            by: KeySelector::new(key_fn, encode),
            spec: spec.shape(),
            stamp,
            agg,
        }
    }

    pub(super) fn is_session(&self) -> bool {
        matches!(self.spec.kind(), WindowKind::Session { .. })
    }
}

/// One stored window entry: a pane of tumbling or sliding windows (every
/// key's accumulator), or one key's sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowEntry<K, A, V> {
    /// A pane: whether it has fired (and is kept for late records).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fired: bool,
    /// A pane: each key's accumulator, by encoded key.
    #[serde(default = "BTreeMap::new", skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, (K, A)>,
    /// A key's sessions.
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<Session<V>>,
    /// The key of the sessions.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub key: Option<K>,
}

fn none<K>() -> Option<K> {
    None
}

impl<K, A, V> Default for WindowEntry<K, A, V> {
    fn default() -> Self {
        Self {
            fired: false,
            keys: BTreeMap::new(),
            sessions: Vec::new(),
            key: None,
        }
    }
}

/// One session of a key: its bounds and records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session<V> {
    /// `[start, end)`.
    pub start: Millis,
    /// The end: the last record plus the gap.
    pub end: Millis,
    /// Whether it has fired.
    #[serde(default)]
    pub fired: bool,
    /// Its records with their times, in arrival order.
    pub items: Vec<(Millis, V)>,
}

impl<V> Session<V> {
    pub(super) fn window(&self) -> Window {
        Window {
            start: self.start,
            end: self.end,
        }
    }
}

impl<KF, K, In, V, W> Windowing<KF, K, In, V, W> {
    /// What the windows' clock reads in this call.
    pub(super) fn threshold(&self, scope: &Scope<'_>) -> Millis {
        match self.stamp.domain {
            TimeDomain::Event => scope.watermark,
            TimeDomain::Processing => crate::keyed::completed(scope.now),
        }
    }

    /// Whether `window` takes no more records (event time only).
    pub(super) fn too_late(&self, window: &Window, scope: &Scope<'_>) -> bool {
        self.stamp.domain == TimeDomain::Event && self.spec.is_late(window, scope.watermark)
    }

    /// Whether a fired window can go: past its lateness on event time, at
    /// once on processing time.
    pub(super) fn done(&self, window: &Window, scope: &Scope<'_>) -> bool {
        self.stamp.domain == TimeDomain::Processing || self.spec.is_late(window, scope.watermark)
    }

    /// The timer a window needs next: its firing, or once fired, its cleanup.
    pub(super) fn next_timer(&self, window: &Window, fired: bool) -> Millis {
        if fired {
            self.spec.cleanup_time(window)
        } else {
            window.max_time()
        }
    }
}

/// A key group's call as a window stage sees it: its results are
/// [`Windowed`].
pub(super) type WinCx<'c, 's, In, K, W, V> = Cx<'c, 's, In, Windowed<K, <W as WindowFn<V>>::Acc>>;

/// A key's window entry in stage `W`'s state.
pub(super) type Entry<K, W, V> = WindowEntry<K, <W as WindowFn<V>>::Acc, V>;

/// What applying a batch to windows comes to: done, or the record that
/// failed.
pub(super) type Applied = Result<(), RecordFailed>;

/// A state error while applying, as a failed record.
pub(super) fn failed(index: usize) -> impl Fn(crate::keyed::StateError) -> RecordFailed {
    move |e| RecordFailed {
        index,
        error: e.to_string(),
    }
}

impl<In, KF, K, V, W> KeyedStage<In> for Windowing<KF, K, In, V, W>
where
    In: 'static,
    KF: Fn(&In) -> K + Send + Sync + 'static,
    K: Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    W: WindowFn<V>,
    W::Acc: Clone + Send + Sync + 'static,
{
    type Out = Windowed<K, W::Acc>;
    type State = WindowEntry<K, W::Acc, V>;

    fn encode_key(&self, record: &In) -> Result<String, serde_json::Error> {
        self.by.encode(record)
    }

    fn domain(&self) -> Option<TimeDomain> {
        Some(self.stamp.domain)
    }

    fn fires_once_on_event_time(&self) -> bool {
        self.stamp.domain == TimeDomain::Event && !self.spec.allows_lateness()
    }

    fn entries(&self, batch: &ByKey<In>, scope: &Scope<'_>) -> Vec<String> {
        if self.is_session() {
            return batch.keys.iter().map(|key| session_entry(key)).collect();
        }
        let mut names: Vec<String> = batch
            .records
            .iter()
            .flat_map(|(_, record)| {
                let time = (self.stamp.time)(record).unwrap_or(scope.now);
                self.spec.windows(time)
            })
            .map(|window| pane_entry(&window))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    fn apply(&self, batch: ByKey<In>, cx: Cx<'_, '_, In, Self::Out>) -> Result<(), RecordFailed>
    where
        Self::State: Record,
    {
        if self.is_session() {
            self.add_sessions(batch, cx)
        } else {
            self.add_panes(batch, cx)
        }
    }

    fn fire(&self, due: Vec<Due>, cx: Cx<'_, '_, In, Self::Out>) -> Result<(), StageError>
    where
        Self::State: Record,
    {
        let Cx {
            state, scope, out, ..
        } = cx;
        for due in due {
            if let Some(window) = parse_pane_entry(&due.tag) {
                self.fire_pane(state, &due.tag, window, scope, out)?;
            } else if due.tag.starts_with(SESSION_PREFIX) {
                self.fire_sessions(state, &due.tag, scope, out)?;
            }
        }
        Ok(())
    }

    /// A pane that could not fire is dropped (its results are computed
    /// as records arrive, so only state that does not decode fails it); a
    /// key's sessions lose the ones that were due (their records, folded
    /// at firing, are what failed).
    fn forget(
        &self,
        entry: &str,
        state: &mut GroupState,
        scope: &Scope<'_>,
    ) -> Result<(), StageError>
    where
        Self::State: Record,
    {
        if entry.starts_with(SESSION_PREFIX) {
            return self.forget_sessions(state, entry, scope);
        }
        state.clear(entry);
        Ok(())
    }
}

const SESSION_PREFIX: &str = "s:";

/// The state entry of a pane.
pub(super) fn pane_entry(window: &Window) -> String {
    format!("w:{}:{}", window.start, window.end)
}

fn parse_pane_entry(name: &str) -> Option<Window> {
    let (start, end) = name.strip_prefix("w:")?.split_once(':')?;
    Some(Window {
        start: start.parse().ok()?,
        end: end.parse().ok()?,
    })
}

/// The state entry of a key's sessions.
pub(super) fn session_entry(key: &str) -> String {
    format!("{SESSION_PREFIX}{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pane_entries_name_their_window() {
        let window = Window {
            start: -10_000,
            end: 0,
        };
        assert_eq!(pane_entry(&window), "w:-10000:0");
        assert_eq!(parse_pane_entry("w:-10000:0"), Some(window));
        assert_eq!(parse_pane_entry("s:\"a\""), None);
    }
}
