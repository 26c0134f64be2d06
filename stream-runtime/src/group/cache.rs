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

use super::deltas::Coverage;

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
    /// Whether every pending delta's entries are among `entries`.
    covers: bool,
}

impl StateCache {
    /// The entries among `names` that group `group` holds at its stored
    /// `version` (`None` when the group has none: nothing is known), up to
    /// `budget` bytes of them, and whether the names it does not answer
    /// are in no pending delta. A group cached at another version is
    /// forgotten.
    pub(crate) fn lookup(
        &self,
        group: u32,
        version: Option<u64>,
        names: &[String],
        budget: usize,
    ) -> (Vec<(String, Vec<u8>)>, Coverage) {
        let nothing = (Vec::new(), Coverage::Unknown);
        let Ok(mut groups) = self.groups.lock() else {
            return nothing;
        };
        let Some(cached) = groups.get(&group) else {
            return nothing;
        };
        if Some(cached.version) != version {
            groups.remove(&group);
            return nothing;
        }
        let mut bytes = 0usize;
        let held: Vec<_> = names
            .iter()
            .filter_map(|name| Some((name, cached.entries.get(name)?)))
            .collect();
        let count = held.len();
        let hits: Vec<_> = held
            .into_iter()
            .take_while(|(_, value)| {
                bytes = bytes.saturating_add(value.len());
                bytes <= budget
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        // A held entry left out for the budget may be pending.
        let coverage = match cached.covers && hits.len() == count {
            true => Coverage::Covers,
            false => Coverage::Unknown,
        };
        (hits, coverage)
    }

    /// After a call that began at stored version `from` and stored `to`:
    /// the group's `entries` as the call left them. Kept together with
    /// what was cached only when the cache was still at `from` (or held
    /// nothing for the group); otherwise the group is forgotten.
    ///
    /// `read_all`: whether the call itself saw every pending delta's
    /// entries (nothing was pending, it read the deltas, or it folded
    /// them). The group is then covered, and so it stays when the cache
    /// covered it at `from`: not on a coverage the call's journal answered
    /// from another process's cache, as a replay's does.
    pub(crate) fn update(
        &self,
        group: u32,
        from: Option<u64>,
        to: u64,
        entries: impl IntoIterator<Item = Loaded>,
        read_all: bool,
    ) {
        let Ok(mut groups) = self.groups.lock() else {
            return;
        };
        let covers = match groups.get(&group) {
            None => read_all,
            Some(cached) if Some(cached.version) == from => read_all || cached.covers,
            Some(_) => {
                groups.remove(&group);
                return;
            }
        };
        let cached = groups.entry(group).or_insert_with(|| Cached {
            version: to,
            entries: HashMap::new(),
            covers,
        });
        cached.version = to;
        cached.covers = covers;
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
        assert!(cache.lookup(0, None, &names(&["a"]), ANY).0.is_empty());
        cache.update(
            0,
            None,
            7,
            [entry("a", Some("1")), entry("b", Some("5"))],
            true,
        );
        // Unknown entries are not answered.
        assert_eq!(
            cache.lookup(0, Some(7), &names(&["a", "b", "c"]), ANY).0,
            [hit("a", "1"), hit("b", "5")]
        );
        // The next call carries on from 7, and keeps what it did not touch;
        // a cleared entry is forgotten, to be read from Restate.
        cache.update(
            0,
            Some(7),
            9,
            [entry("a", Some("2")), entry("c", None)],
            true,
        );
        cache.update(0, Some(9), 10, [entry("b", None)], true);
        assert_eq!(
            cache.lookup(0, Some(10), &names(&["a", "b", "c"]), ANY).0,
            [hit("a", "2")]
        );
        // Another group is apart.
        assert!(cache.lookup(1, Some(9), &names(&["a"]), ANY).0.is_empty());
    }

    #[test]
    fn a_stored_version_the_cache_does_not_hold_forgets_the_group() {
        let cache = StateCache::default();
        cache.update(0, None, 7, [entry("a", Some("1"))], true);
        // Another process (or a call killed half-way) stored something
        // else: nothing is answered, and the group is forgotten.
        assert!(cache.lookup(0, Some(8), &names(&["a"]), ANY).0.is_empty());
        assert!(cache.lookup(0, None, &names(&["a"]), ANY).0.is_empty());
        assert!(cache.lookup(0, Some(7), &names(&["a"]), ANY).0.is_empty());
    }

    #[test]
    fn an_update_from_another_version_forgets_the_group() {
        let cache = StateCache::default();
        cache.update(0, None, 7, [entry("a", Some("1"))], true);
        // A superseded attempt that began at 5 finishes late.
        cache.update(0, Some(5), 6, [entry("a", Some("0"))], true);
        assert!(cache.lookup(0, Some(6), &names(&["a"]), ANY).0.is_empty());
        assert!(cache.lookup(0, Some(7), &names(&["a"]), ANY).0.is_empty());
        // A group with nothing cached takes a call's entries as they are.
        cache.update(0, Some(3), 4, [entry("a", Some("4"))], true);
        assert_eq!(
            cache.lookup(0, Some(4), &names(&["a"]), ANY).0,
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
            true,
        );
        let all = names(&["a", "b"]);
        // An entry left out for the budget may be pending: not covered.
        assert_eq!(
            cache.lookup(0, Some(7), &all, 5),
            (vec![hit("a", "123")], Coverage::Unknown)
        );
        assert_eq!(cache.lookup(0, Some(7), &all, 6).0.len(), 2);
        assert_eq!(cache.lookup(0, Some(7), &all, 6).1, Coverage::Covers);
    }

    #[test]
    fn a_group_covers_its_deltas_once_this_cache_saw_them_all() {
        let cache = StateCache::default();
        let a = names(&["a", "z"]);
        // Cached by a call that did not read the pending deltas (a replay
        // whose journal says another process's cache covered them).
        cache.update(0, None, 7, [entry("a", Some("1"))], false);
        assert_eq!(cache.lookup(0, Some(7), &a, ANY).1, Coverage::Unknown);
        // The next call read them (or folded): now a miss is in none.
        cache.update(0, Some(7), 8, [entry("a", Some("2"))], true);
        assert_eq!(cache.lookup(0, Some(8), &a, ANY).1, Coverage::Covers);
        // And stays so through calls that add deltas of their own.
        cache.update(0, Some(8), 9, [entry("b", Some("3"))], false);
        assert_eq!(cache.lookup(0, Some(9), &a, ANY).1, Coverage::Covers);
        // Another version: nothing is known, and coverage starts over.
        assert_eq!(cache.lookup(0, Some(10), &a, ANY).1, Coverage::Unknown);
        cache.update(0, Some(10), 11, [entry("a", Some("4"))], false);
        assert_eq!(cache.lookup(0, Some(11), &a, ANY).1, Coverage::Unknown);
    }
}
