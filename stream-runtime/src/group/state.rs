//! A key group's state entries for one invocation: loaded before the
//! batch, read and changed by the keyed stage in memory, and written back
//! by the handler only when the whole call succeeded.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Loaded;
use crate::guard::StateError;

/// The state entries one call loaded, and what it changed.
#[derive(Debug, Default)]
pub struct GroupState {
    entries: BTreeMap<String, Entry>,
    /// Prepended to every name while a stage of a join's side reads and
    /// writes (see [`scoped`](Self::scoped)).
    prefix: &'static str,
}

/// An entry as it was (`None`: not loaded), to put back.
pub(crate) struct Snapshot(Option<(Option<Vec<u8>>, bool)>);

impl Snapshot {
    /// The entry's JSON, if it had one.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        let bytes = self.0.as_ref()?.0.as_ref()?;
        serde_json::from_slice(bytes).ok()
    }
}

#[derive(Debug)]
struct Entry {
    bytes: Option<Vec<u8>>,
    changed: bool,
}

impl GroupState {
    /// Entries as loaded from Restate (`None`: absent).
    pub(crate) fn loaded(entries: impl IntoIterator<Item = (String, Option<Vec<u8>>)>) -> Self {
        let entries = entries
            .into_iter()
            .map(|(name, bytes)| {
                (
                    name,
                    Entry {
                        bytes,
                        changed: false,
                    },
                )
            })
            .collect();
        Self {
            entries,
            prefix: "",
        }
    }

    /// Runs `f` with every entry name it reads or writes taken under
    /// `prefix`: a join's side keeps its stage's entries apart from the
    /// other side's, whatever names the stage gives them.
    pub(crate) fn scoped<T>(&mut self, prefix: &'static str, f: impl FnOnce(&mut Self) -> T) -> T {
        let outer = std::mem::replace(&mut self.prefix, prefix);
        // A stage that panics (caught by the firing's guard) must not
        // leave the prefix behind for the rest of the call.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        self.prefix = outer;
        result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// The stored name of the entry `name`.
    fn full<'n>(&self, name: &'n str) -> std::borrow::Cow<'n, str> {
        match self.prefix {
            "" => std::borrow::Cow::Borrowed(name),
            prefix => std::borrow::Cow::Owned(format!("{prefix}{name}")),
        }
    }

    /// The entry `name`, decoded; `None` when absent. Reading an entry the
    /// call did not load is an error, never a silent `None`.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StateError> {
        let entry = self
            .entries
            .get(self.full(name).as_ref())
            .ok_or_else(|| StateError {
                name: name.to_owned(),
                type_name: std::any::type_name::<T>(),
                reason: "the entry was not loaded for this call".to_owned(),
            })?;
        let Some(bytes) = &entry.bytes else {
            return Ok(None);
        };
        serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| StateError {
                name: name.to_owned(),
                type_name: std::any::type_name::<T>(),
                reason: e.to_string(),
            })
    }

    /// Replaces the entry `name`.
    pub fn set<T: Serialize>(&mut self, name: &str, value: &T) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StateError {
            name: name.to_owned(),
            type_name: std::any::type_name::<T>(),
            reason: e.to_string(),
        })?;
        self.put(name, Some(bytes));
        Ok(())
    }

    /// Removes the entry `name`.
    pub fn clear(&mut self, name: &str) {
        self.put(name, None);
    }

    fn put(&mut self, name: &str, bytes: Option<Vec<u8>>) {
        let name = self.full(name).into_owned();
        let entry = self.entries.entry(name).or_insert(Entry {
            bytes: None,
            changed: false,
        });
        entry.changed |= entry.bytes != bytes;
        entry.bytes = bytes;
    }

    /// The entry `name` as it is now, for [`restore`](Self::restore).
    pub(crate) fn snapshot(&self, name: &str) -> Snapshot {
        Snapshot(
            self.entries
                .get(self.full(name).as_ref())
                .map(|e| (e.bytes.clone(), e.changed)),
        )
    }

    /// Puts the entry `name` back as it was at `snapshot`: the changes a
    /// failed timer made are undone, and the rest of the call's kept.
    pub(crate) fn restore(&mut self, name: &str, snapshot: Snapshot) {
        let name = self.full(name).into_owned();
        match snapshot.0 {
            Some((bytes, changed)) => {
                self.entries.insert(name, Entry { bytes, changed });
            }
            None => {
                self.entries.remove(&name);
            }
        }
    }

    /// The entries that changed, to store (`Some`) or remove (`None`), and
    /// every entry as the call left it.
    pub(crate) fn settle(self) -> (Vec<Loaded>, Vec<Loaded>) {
        let mut changed = Vec::new();
        let mut all = Vec::with_capacity(self.entries.len());
        for (name, entry) in self.entries {
            if entry.changed {
                changed.push((name.clone(), entry.bytes.clone()));
            }
            all.push((name, entry.bytes));
        }
        (changed, all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_entries_are_written_and_unloaded_ones_are_an_error() {
        let mut state = GroupState::loaded([
            ("a".to_owned(), Some(b"1".to_vec())),
            ("b".to_owned(), Some(b"2".to_vec())),
            ("c".to_owned(), None),
        ]);
        assert_eq!(state.get::<u32>("a").unwrap(), Some(1));
        assert_eq!(state.get::<u32>("c").unwrap(), None);
        assert!(state.get::<u32>("d").is_err());
        state.set("a", &1u32).unwrap(); // unchanged
        state.set("b", &3u32).unwrap();
        state.clear("c"); // was absent
        let (changes, _) = state.settle();
        assert_eq!(changes, [("b".to_owned(), Some(b"3".to_vec()))]);
    }
}
