//! A key group's changes written as one entry a call, folded into the
//! per-key entries later.
//!
//! Restate journals each state `set` on its own, so a call that changes
//! 500 keys wrote 500 entries, and over many keys those writes bounded the
//! server. A call that reads through the [cache](super::cache) instead
//! writes what it changed as one *delta* entry, `d:<n>`, and counts it in
//! the group's [`Pending`] entry, `dl`. The value of an entry is then its
//! newest pending delta's, else its own entry's. Once the deltas reach
//! [`MAX_PENDING`] or the call's byte budget, or when a call that does not
//! use the cache writes, the call *folds*: it reads the pending deltas,
//! writes each entry they hold (and its own changes) to its own entry, and
//! clears them and the count. A delta's cleared entries are also cleared
//! in their own entries at once (the cache holds no absent entry, so a
//! miss it answers for reads the entry's own).
//!
//! A call reads the pending deltas only when an entry it needs may be in
//! one: not when the cache answers for every name it does not hold
//! ([`Coverage`]), which it does once it saw every pending delta written.
//!
//! Decisions live here, apart from the handler, so unit tests drive them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Loaded;

/// The state entry counting a group's pending deltas.
pub(crate) const DELTAS: &str = "dl";

/// What every delta entry's name starts with, then its number.
pub const DELTA_PREFIX: &str = "d:";

/// Deltas a group holds at most before a call folds them.
pub(crate) const MAX_PENDING: u64 = 256;

/// A group's pending deltas: `d:<first>` up to `d:<next - 1>`, `bytes`
/// in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) first: u64,
    pub(crate) next: u64,
    pub(crate) bytes: u64,
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.first >= self.next
    }

    /// The pending delta entries, oldest first.
    pub(crate) fn entries(&self) -> Vec<String> {
        (self.first..self.next).map(delta_entry).collect()
    }
}

/// The name of delta `n`.
pub(crate) fn delta_entry(n: u64) -> String {
    format!("{DELTA_PREFIX}{n}")
}

/// How a call writes what it changed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Write {
    /// Each changed entry to its own entry: nothing is pending, or the
    /// call changed nothing.
    Direct,
    /// One delta entry, `entry`, holding `bytes`; then `pending`.
    Delta {
        entry: String,
        bytes: Vec<u8>,
        pending: Pending,
    },
    /// The pending deltas and the call's changes to their own entries; the
    /// deltas cleared.
    Fold,
}

/// Decides how a call writes `changes`: a call through the cache writes a
/// delta while the group's deltas stay under [`MAX_PENDING`] and `budget`
/// bytes; another call, or one past those, folds what is pending (or
/// writes directly when nothing is). A call that changed nothing writes
/// nothing.
pub(crate) fn plan(pending: Pending, cached: bool, changes: &[Loaded], budget: usize) -> Write {
    if changes.is_empty() {
        return Write::Direct;
    }
    if cached {
        let bytes = encode(changes);
        let total = pending.bytes.saturating_add(bytes.len() as u64);
        let count = pending.next - pending.first.min(pending.next);
        if count < MAX_PENDING && total <= budget as u64 {
            let first = match pending.is_empty() {
                true => pending.next,
                false => pending.first,
            };
            return Write::Delta {
                entry: delta_entry(pending.next),
                bytes,
                pending: Pending {
                    first,
                    next: pending.next + 1,
                    bytes: total,
                },
            };
        }
    }
    match pending.is_empty() {
        true => Write::Direct,
        false => Write::Fold,
    }
}

/// A delta as stored: JSON, so that it reads as text from outside.
#[derive(Serialize, Deserialize)]
struct Stored<V> {
    set: BTreeMap<String, V>,
    clear: Vec<String>,
}

/// A delta entry's bytes for `changes` (each entry's bytes are JSON, as
/// [`GroupState`](super::GroupState) writes them).
pub(crate) fn encode(changes: &[Loaded]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        16 + changes
            .iter()
            .map(|(n, b)| n.len() + b.as_ref().map_or(0, Vec::len) + 8)
            .sum::<usize>(),
    );
    out.extend_from_slice(b"{\"set\":{");
    let mut first = true;
    for (name, bytes) in changes {
        let Some(bytes) = bytes else { continue };
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        push_string(&mut out, name);
        out.push(b':');
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(b"},\"clear\":[");
    let mut first = true;
    for (name, _) in changes.iter().filter(|(_, bytes)| bytes.is_none()) {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        push_string(&mut out, name);
    }
    out.extend_from_slice(b"]}");
    out
}

fn push_string(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec does not fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// A delta entry's changes.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Loaded>, String> {
    let stored: Stored<Box<RawValue>> =
        serde_json::from_slice(bytes).map_err(|e| format!("a delta entry does not decode: {e}"))?;
    let set = stored
        .set
        .into_iter()
        .map(|(name, value)| (name, Some(value.get().as_bytes().to_vec())));
    let clear = stored.clear.into_iter().map(|name| (name, None));
    Ok(set.chain(clear).collect())
}

/// The pending deltas' changes merged, the newest of each entry.
#[derive(Debug, Default)]
pub(crate) struct Merged(HashMap<String, Option<Vec<u8>>>);

impl Merged {
    /// Merges deltas given oldest first.
    pub(crate) fn of(deltas: impl IntoIterator<Item = Vec<Loaded>>) -> Self {
        let mut merged = HashMap::new();
        for delta in deltas {
            merged.extend(delta);
        }
        Self(merged)
    }

    /// The entry's pending value: `None` when no delta holds it,
    /// `Some(None)` when one cleared it.
    pub(crate) fn get(&self, name: &str) -> Option<&Option<Vec<u8>>> {
        self.0.get(name)
    }

    /// What a fold writes: every pending entry, then the call's own
    /// `changes` over them.
    pub(crate) fn fold(mut self, changes: Vec<Loaded>) -> Vec<Loaded> {
        self.0.extend(changes);
        let mut all: Vec<Loaded> = self.0.into_iter().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Every pending entry, for the cache to hold.
    pub(crate) fn entries(&self) -> impl Iterator<Item = Loaded> + '_ {
        self.0.iter().map(|(n, b)| (n.clone(), b.clone()))
    }
}

/// Whether the cache answers for the entries it does not hold: then none
/// of them is in a pending delta, and a miss reads the entry's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Coverage {
    /// Every pending delta's entries are in the cache.
    Covers,
    /// A miss may be pending: the deltas are read.
    Unknown,
}

/// A key group's entries as they read from outside (`restate sql`): each
/// entry's own value, then the pending deltas' over them, oldest first
/// (those the count `dl` names: a delta it does not name is not pending).
/// `rows` are a group's entries' names and texts; the delta entries, the
/// delta count and the read cache's version are not among the answer.
///
/// ```
/// use stream_runtime::keyed::group_entries;
/// let rows = vec![
///     ("k:\"a\"".to_owned(), "1".to_owned()),
///     ("k:\"b\"".to_owned(), "1".to_owned()),
///     ("d:0".to_owned(), r#"{"set":{"k:\"a\"":2},"clear":[]}"#.to_owned()),
///     ("d:1".to_owned(), r#"{"set":{"k:\"a\"":3},"clear":["k:\"b\""]}"#.to_owned()),
///     ("dl".to_owned(), r#"{"first":0,"next":2,"bytes":80}"#.to_owned()),
/// ];
/// let entries = group_entries(rows).unwrap();
/// assert_eq!(entries.len(), 1);
/// assert_eq!(entries["k:\"a\""], "3");
/// ```
pub fn group_entries(
    rows: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, String> {
    let mut own = BTreeMap::new();
    let mut deltas = BTreeMap::new();
    let mut pending = Pending::default();
    for (name, text) in rows {
        match name.strip_prefix(DELTA_PREFIX).map(str::parse::<u64>) {
            Some(Ok(n)) => {
                deltas.insert(n, text);
            }
            _ if name == DELTAS => {
                pending = serde_json::from_str(&text)
                    .map_err(|e| format!("the delta count does not decode: {e}"))?;
            }
            _ if name == super::VERSION => {}
            _ => {
                own.insert(name, text);
            }
        }
    }
    let pending: Vec<Vec<Loaded>> = deltas
        .range(pending.first..pending.next)
        .map(|(_, text)| decode(text.as_bytes()))
        .collect::<Result<_, _>>()?;
    for (name, bytes) in pending.into_iter().flatten() {
        match bytes {
            Some(bytes) => {
                let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
                own.insert(name, text);
            }
            None => {
                own.remove(&name);
            }
        }
    }
    Ok(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, json: &str) -> Loaded {
        (name.to_owned(), Some(json.as_bytes().to_vec()))
    }

    #[test]
    fn a_delta_round_trips_its_sets_and_clears() {
        let changes = vec![
            set("k:\"a\"", "{\"n\":1}"),
            ("k:\"b\"".to_owned(), None),
            set("w:\"c\\\"\"", "[1,2]"),
            set("k:null", "null"),
        ];
        let mut back = decode(&encode(&changes)).unwrap();
        back.sort();
        let mut want = changes;
        want.sort();
        assert_eq!(back, want);
    }

    #[test]
    fn cached_calls_write_deltas_until_the_count_or_the_budget_then_fold() {
        let changes = vec![set("k:1", "1")];
        let empty = Pending::default();
        let Write::Delta { entry, pending, .. } = plan(empty, true, &changes, 1000) else {
            panic!("a cached call writes a delta");
        };
        assert_eq!(entry, "d:0");
        assert_eq!((pending.first, pending.next), (0, 1));
        assert!(pending.bytes > 0);
        let full = Pending {
            first: 3,
            next: 3 + MAX_PENDING,
            bytes: 10,
        };
        assert_eq!(plan(full, true, &changes, 1000), Write::Fold);
        let heavy = Pending {
            first: 3,
            next: 4,
            bytes: 995,
        };
        assert_eq!(plan(heavy, true, &changes, 1000), Write::Fold);
        let more = Pending {
            first: 7,
            next: 9,
            bytes: 20,
        };
        let Write::Delta { entry, pending, .. } = plan(more, true, &changes, 1000) else {
            panic!("a delta after others");
        };
        assert_eq!(
            (entry.as_str(), pending.first, pending.next),
            ("d:9", 7, 10)
        );
    }

    #[test]
    fn calls_without_the_cache_fold_what_is_pending_or_write_directly() {
        let changes = vec![set("k:1", "1")];
        let some = Pending {
            first: 0,
            next: 2,
            bytes: 40,
        };
        assert_eq!(plan(some, false, &changes, 1000), Write::Fold);
        assert_eq!(
            plan(Pending::default(), false, &changes, 1000),
            Write::Direct
        );
        // A call that changed nothing writes nothing, not even a fold.
        assert_eq!(plan(Pending::default(), true, &[], 1000), Write::Direct);
        assert_eq!(plan(some, false, &[], 1000), Write::Direct);
    }

    #[test]
    fn the_newest_delta_wins_and_a_fold_puts_the_calls_changes_last() {
        let merged = Merged::of([
            vec![set("a", "1"), set("b", "1")],
            vec![set("a", "2"), ("b".to_owned(), None)],
        ]);
        assert_eq!(merged.get("a"), Some(&Some(b"2".to_vec())));
        assert_eq!(merged.get("b"), Some(&None));
        assert_eq!(merged.get("c"), None);
        let folded = merged.fold(vec![set("b", "3"), set("c", "4")]);
        assert_eq!(folded, vec![set("a", "2"), set("b", "3"), set("c", "4")]);
    }

    #[test]
    fn entries_read_from_outside_take_the_deltas_in_number_order() {
        let rows = vec![
            (
                "d:10".to_owned(),
                r#"{"set":{"k:1":10},"clear":[]}"#.to_owned(),
            ),
            (
                "d:9".to_owned(),
                r#"{"set":{"k:1":9,"k:2":9},"clear":[]}"#.to_owned(),
            ),
            ("k:1".to_owned(), "1".to_owned()),
            (
                "dl".to_owned(),
                r#"{"first":9,"next":11,"bytes":1}"#.to_owned(),
            ),
            ("v".to_owned(), "7".to_owned()),
        ];
        let entries = group_entries(rows).unwrap();
        assert_eq!(entries["k:1"], "10");
        assert_eq!(entries["k:2"], "9");
        assert!(!entries.contains_key("dl") && !entries.contains_key("v"));
        // A delta the count does not name (left by a killed invocation) is
        // not pending; a pending one that does not decode is an error.
        let orphan = vec![
            ("k:1".to_owned(), "1".to_owned()),
            (
                "d:3".to_owned(),
                r#"{"set":{"k:1":3},"clear":[]}"#.to_owned(),
            ),
        ];
        assert_eq!(group_entries(orphan).unwrap()["k:1"], "1");
        let broken = vec![
            ("d:0".to_owned(), "{".to_owned()),
            (
                "dl".to_owned(),
                r#"{"first":0,"next":1,"bytes":1}"#.to_owned(),
            ),
        ];
        assert!(group_entries(broken).is_err());
    }
}
