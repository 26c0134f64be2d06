//! A key group's batch by key (`ByKey`), and what to write back of a
//! key's state after it.

/// A key group's batch: the distinct keys it touches (encoded, in order of
/// first appearance), and its records in order, each with its key's slot.
#[derive(Debug)]
pub struct ByKey<M> {
    /// The distinct encoded keys.
    pub keys: Vec<String>,
    /// The records, each with the index of its key in `keys`.
    pub records: Vec<(usize, M)>,
}

/// The index of the first record of key `slot`.
pub(crate) fn by_key_slots<M>(batch: &ByKey<M>, slot: usize) -> usize {
    batch
        .records
        .iter()
        .position(|(s, _)| *s == slot)
        .unwrap_or(0)
}

/// What to do with a key's stored state after a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WriteBack<S> {
    /// Store this state.
    Set(S),
    /// Remove the stored state (the operator cleared it).
    Clear,
    /// Nothing was stored and nothing is.
    Nothing,
}

/// The write for a key that had state (`existed`) and now has `state`.
pub(crate) fn write_back<S>(existed: bool, state: Option<S>) -> WriteBack<S> {
    match state {
        Some(state) => WriteBack::Set(state),
        None if existed => WriteBack::Clear,
        None => WriteBack::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleared_state_is_removed_and_absent_state_untouched() {
        assert_eq!(write_back(true, Some(1)), WriteBack::Set(1));
        assert_eq!(write_back(false, Some(1)), WriteBack::Set(1));
        assert_eq!(write_back::<u8>(true, None), WriteBack::Clear);
        assert_eq!(write_back::<u8>(false, None), WriteBack::Nothing);
    }
}
