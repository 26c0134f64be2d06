//! Keeping every call under the server's message limit, whatever the
//! records' size: a round's records go to a key group, or to the sink, in
//! as many calls as their encoded size needs (in order), and a record too
//! large for any call is set apart, for the dead-letter output.
//!
//! restate-server refuses a message over its limit (32 MiB by default) and
//! retries the call forever; without this, a batch of large records would
//! stall its tokens with nothing in `status` to say why.

use crate::protocol::codec::{self, Encoding};
use crate::record::Record;

/// Bytes a call spends besides its records: the brackets, the batch's
/// other fields, and the comma after each record.
const ENVELOPE: usize = 64;

/// Items cut into calls.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Cut<I> {
    /// The calls, in order, each with its items in order.
    pub calls: Vec<Vec<I>>,
    /// Each item larger than a call may carry, with its encoded size.
    pub too_large: Vec<(I, usize)>,
}

/// Cuts `items` into consecutive calls of at most `budget` encoded bytes,
/// as `size` measures each. An item that does not fit in a call alone is
/// set apart. Every call holds at least one item, and no items means no
/// calls.
pub(crate) fn cut<I>(items: Vec<I>, budget: usize, mut size: impl FnMut(&I) -> usize) -> Cut<I> {
    let room = budget.saturating_sub(ENVELOPE);
    let mut cut = Cut {
        calls: Vec::new(),
        too_large: Vec::new(),
    };
    let mut call = Vec::new();
    let mut used = 0;
    for item in items {
        let bytes = size(&item).saturating_add(1);
        if bytes > room {
            cut.too_large.push((item, bytes - 1));
            continue;
        }
        if used + bytes > room {
            cut.calls.push(std::mem::take(&mut call));
            used = 0;
        }
        used += bytes;
        call.push(item);
    }
    if !call.is_empty() {
        cut.calls.push(call);
    }
    cut
}

/// Cuts `items` into calls as [`cut`] does, each measured in the encoding
/// its records go in: `wanted` for records of `record`'s type that
/// MessagePack carries, JSON otherwise (see [`codec::sizes`]).
pub(crate) fn cut_records<I, T: Record>(
    items: Vec<I>,
    budget: usize,
    wanted: Encoding,
    record: impl Fn(&I) -> &T,
) -> (Encoding, Cut<I>) {
    let wanted = wanted.for_records(items.first().map(&record));
    let (encoding, sizes) = codec::sizes(items.iter().map(&record), wanted);
    let mut sizes = sizes.into_iter();
    let cut = cut(items, budget, |_| sizes.next().unwrap_or(0));
    (encoding, cut)
}

/// Why a record was set apart, for its dead letter.
pub(crate) fn too_large_reason(bytes: usize, budget: usize) -> String {
    format!(
        "the record is {bytes} bytes encoded, more than the {budget} bytes one call may carry \
         (raise `max_call_bytes`, within restate-server's message limit)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(cut: &Cut<usize>) -> Vec<Vec<usize>> {
        cut.calls.clone()
    }

    #[test]
    fn small_records_go_in_one_call() {
        let cut = cut(vec![10, 20, 30], 1_000, |n| *n);
        assert_eq!(sizes(&cut), vec![vec![10, 20, 30]]);
        assert!(cut.too_large.is_empty());
    }

    #[test]
    fn records_over_the_budget_are_cut_into_calls_in_order() {
        // Room for 136 bytes a call: each record counts its size plus a comma.
        let cut = cut(vec![60, 60, 60, 10, 100, 5], 200, |n| *n);
        assert_eq!(sizes(&cut), vec![vec![60, 60], vec![60, 10], vec![100, 5]]);
        for call in &cut.calls {
            let used: usize = call.iter().map(|n| n + 1).sum();
            assert!(used + ENVELOPE <= 200, "{call:?} is over budget");
        }
    }

    #[test]
    fn a_record_too_large_for_any_call_is_set_apart() {
        let cut = cut(vec![10, 500, 20], 200, |n| *n);
        assert_eq!(sizes(&cut), vec![vec![10, 20]]);
        assert_eq!(cut.too_large, vec![(500, 500)]);
    }

    #[test]
    fn no_records_make_no_calls() {
        let cut = cut(Vec::<usize>::new(), 200, |n| *n);
        assert!(cut.calls.is_empty() && cut.too_large.is_empty());
    }
}
