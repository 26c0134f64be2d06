//! Key groups: `KeyGroups` (how many there are), the stable hash that puts
//! a key in its group, and the name of each key's state entry (`k:` prefix).

use serde::{Deserialize, Serialize};

/// How many key groups the keyed stage spreads keys over.
///
/// As in Flink, a stable hash of the key picks its group, and each group is
/// one Virtual Object that keeps the state of all its keys, one Restate state
/// entry per key. A batch therefore costs at most `KeyGroups` keyed calls,
/// whatever the number of distinct keys. The count is part of the durable
/// state layout (with the splits and sink partitions): changing it would move keys
/// between groups, so the first `addTokens` fixes it for the life of the
/// pipeline's state, and an endpoint serving the pipeline with another count
/// has its tokens stopped and `addTokens` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroups(u32);

impl KeyGroups {
    /// The default: 16 groups.
    pub const DEFAULT: KeyGroups = KeyGroups(16);

    /// `count` groups (at least one).
    pub fn new(count: u32) -> Self {
        Self(count.max(1))
    }

    /// The number of groups.
    pub fn count(self) -> u32 {
        self.0
    }
}

impl Default for KeyGroups {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The key group of an encoded key: a [`stable_hash`] of it.
pub(crate) fn key_group(encoded_key: &str, groups: KeyGroups) -> u32 {
    (stable_hash(encoded_key) % u64::from(groups.count())) as u32
}

/// FNV-1a over a string's bytes: a hash that is stable across processes,
/// platforms and compiler versions, so it can place durable state.
pub(crate) fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// What every key's state entry starts with, inside its key group's
/// Virtual Object: `k:` then the key's JSON. Public for reading state from
/// outside, as `restate sql "select service_key, key, value_utf8 from state
/// where service_name = 'PKeyed'"` does; a group's pending changes are in
/// its delta entries until they are folded, so take each group's rows
/// through [`group_entries`](crate::keyed::group_entries).
pub const STATE_KEY_PREFIX: &str = "k:";

/// The Restate state entry that holds one key's state inside its group.
pub(crate) fn state_key(encoded_key: &str) -> String {
    format!("{STATE_KEY_PREFIX}{encoded_key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_stable_and_in_range() {
        let groups = KeyGroups::new(16);
        // Pinned values: a change here would move stored state between groups.
        assert_eq!(
            key_group("\"apple\"", groups),
            key_group("\"apple\"", groups)
        );
        for word in ["a", "b", "apple", "zebra", ""] {
            assert!(key_group(word, groups) < 16);
        }
        assert_eq!(key_group("anything", KeyGroups::new(1)), 0);
        assert_eq!(key_group("\"apple\"", groups), 7);
    }
}
