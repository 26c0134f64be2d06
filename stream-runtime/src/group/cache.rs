//! An endpoint-side cache of key groups' state entries, so that a call
//! reads from Restate only the entries this process has not seen as they
//! are stored, instead of one lazy `get` per key.
//!
//! **Why a replay never depends on it.** The entries a call takes from the
//! cache are journaled as the result of one `ctx.run`, so a retry of the
//! call reads them from its journal, whatever the cache holds by then.
//!
//! **Why it is never stale.** Each call that writes stores a version of
//! its own (the invocation's random seed, stable across its retries) in the
//! group's entry `v`, after clearing it before its first write; the cache
//! answers only for the version stored. So an entry changed by a call this
//! process did not finish (another endpoint's, a call that was killed
//! half-way, one whose attempt here was superseded) leaves a stored
//! version, or none, that the cache does not hold, and the group's entries
//! are read from Restate again. A cache update that does not start from
//! the version the call began at forgets the group instead.

use std::collections::HashMap;
use std::sync::Mutex;

/// The state entry holding the version of a group's entries.
pub(crate) const VERSION: &str = "v";

/// Entries a group holds at most in the cache; past that it is forgotten,
/// and its next call reads from Restate.
const MAX_ENTRIES_PER_GROUP: usize = 250_000;

/// A loaded entry: its name and its stored bytes (`None`: absent).
pub(crate) type Loaded = (String, Option<Vec<u8>>);

/// The cached entries of one keyed stage's groups in this process.
#[derive(Debug, Default)]
pub(crate) struct StateCache {
    groups: Mutex<HashMap<u32, Cached>>,
}

/// A group's entries as stored at `version`. Only entries that hold a
/// value: an absent one (a window that fired, a key never seen) is read
/// from Restate, so that the cache never grows with what is gone.
#[derive(Debug)]
struct Cached {
    version: u64,
    entries: HashMap<String, Vec<u8>>,
}

impl StateCache {
    /// The entries among `names` that group `group` holds at its stored
    /// `version` (`None` when the group has none: nothing is known), up to
    /// `budget` bytes of them. A group cached at another version is
    /// forgotten.
    pub(crate) fn lookup(
        &self,
        group: u32,
        version: Option<u64>,
        names: &[String],
        budget: usize,
    ) -> Vec<(String, Vec<u8>)> {
        let Ok(mut groups) = self.groups.lock() else {
            return Vec::new();
        };
        let Some(cached) = groups.get(&group) else {
            return Vec::new();
        };
        if Some(cached.version) != version {
            groups.remove(&group);
            return Vec::new();
        }
        let mut bytes = 0usize;
        names
            .iter()
            .filter_map(|name| Some((name, cached.entries.get(name)?)))
            .take_while(|(_, value)| {
                bytes = bytes.saturating_add(value.len());
                bytes <= budget
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    /// After a call that began at stored version `from` and stored `to`:
    /// the group's `entries` as the call left them. Kept together with
    /// what was cached only when the cache was still at `from` (or held
    /// nothing for the group); otherwise the group is forgotten.
    pub(crate) fn update(
        &self,
        group: u32,
        from: Option<u64>,
        to: u64,
        entries: impl IntoIterator<Item = Loaded>,
    ) {
        let Ok(mut groups) = self.groups.lock() else {
            return;
        };
        let cached = groups.entry(group).or_insert_with(|| Cached {
            version: to,
            entries: HashMap::new(),
        });
        let fresh = cached.version == to && cached.entries.is_empty();
        if !fresh && Some(cached.version) != from {
            groups.remove(&group);
            return;
        }
        cached.version = to;
        for (name, bytes) in entries {
            match bytes {
                Some(bytes) => cached.entries.insert(name, bytes),
                None => cached.entries.remove(&name),
            };
        }
        if cached.entries.len() > MAX_ENTRIES_PER_GROUP {
            groups.remove(&group);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A budget no test reaches.
    const ANY: usize = usize::MAX;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn entry(name: &str, value: Option<&str>) -> Loaded {
        (name.to_owned(), value.map(|v| v.as_bytes().to_vec()))
    }

    /// An entry as a lookup answers it.
    fn hit(name: &str, value: &str) -> (String, Vec<u8>) {
        (name.to_owned(), value.as_bytes().to_vec())
    }

    #[test]
    fn a_group_answers_at_the_version_its_last_call_stored() {
        let cache = StateCache::default();
        assert!(cache.lookup(0, None, &names(&["a"]), ANY).is_empty());
        cache.update(0, None, 7, [entry("a", Some("1")), entry("b", Some("5"))]);
        // Unknown entries are not answered.
        assert_eq!(
            cache.lookup(0, Some(7), &names(&["a", "b", "c"]), ANY),
            [hit("a", "1"), hit("b", "5")]
        );
        // The next call carries on from 7, and keeps what it did not touch;
        // a cleared entry is forgotten, to be read from Restate.
        cache.update(0, Some(7), 9, [entry("a", Some("2")), entry("c", None)]);
        cache.update(0, Some(9), 10, [entry("b", None)]);
        assert_eq!(
            cache.lookup(0, Some(10), &names(&["a", "b", "c"]), ANY),
            [hit("a", "2")]
        );
        // Another group is apart.
        assert!(cache.lookup(1, Some(9), &names(&["a"]), ANY).is_empty());
    }

    #[test]
    fn a_stored_version_the_cache_does_not_hold_forgets_the_group() {
        let cache = StateCache::default();
        cache.update(0, None, 7, [entry("a", Some("1"))]);
        // Another process (or a call killed half-way) stored something
        // else: nothing is answered, and the group is forgotten.
        assert!(cache.lookup(0, Some(8), &names(&["a"]), ANY).is_empty());
        assert!(cache.lookup(0, None, &names(&["a"]), ANY).is_empty());
        assert!(cache.lookup(0, Some(7), &names(&["a"]), ANY).is_empty());
    }

    #[test]
    fn an_update_from_another_version_forgets_the_group() {
        let cache = StateCache::default();
        cache.update(0, None, 7, [entry("a", Some("1"))]);
        // A superseded attempt that began at 5 finishes late.
        cache.update(0, Some(5), 6, [entry("a", Some("0"))]);
        assert!(cache.lookup(0, Some(6), &names(&["a"]), ANY).is_empty());
        assert!(cache.lookup(0, Some(7), &names(&["a"]), ANY).is_empty());
        // A group with nothing cached takes a call's entries as they are.
        cache.update(0, Some(3), 4, [entry("a", Some("4"))]);
        assert_eq!(
            cache.lookup(0, Some(4), &names(&["a"]), ANY),
            [hit("a", "4")]
        );
    }

    #[test]
    fn a_lookup_takes_entries_up_to_its_budget() {
        let cache = StateCache::default();
        cache.update(
            0,
            None,
            7,
            [entry("a", Some("123")), entry("b", Some("456"))],
        );
        let all = names(&["a", "b"]);
        assert_eq!(cache.lookup(0, Some(7), &all, 5), [hit("a", "123")]);
        assert_eq!(cache.lookup(0, Some(7), &all, 6).len(), 2);
    }
}
