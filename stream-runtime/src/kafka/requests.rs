//! Cutting a sink write into produce requests the broker takes: a record
//! batch larger than the broker's `message.max.bytes` (1 MiB by default)
//! is refused whole, so a write of many records goes in several requests,
//! in order.

use std::ops::Range;

/// The bytes of records one produce request carries by default: under the
/// broker's default `message.max.bytes` (1,048,588), with room for the
/// batch's own header and for estimates that run short.
pub(crate) const DEFAULT_MAX_REQUEST_BYTES: usize = 900 << 10;

/// Consecutive ranges of records whose `sizes` add up to at most `limit`
/// each; a record larger than `limit` is a range of its own.
pub(crate) fn requests(sizes: &[usize], limit: usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (index, &size) in sizes.iter().enumerate() {
        if index > start && bytes.saturating_add(size) > limit {
            ranges.push(start..index);
            (start, bytes) = (index, 0);
        }
        bytes = bytes.saturating_add(size);
    }
    if start < sizes.len() {
        ranges.push(start..sizes.len());
    }
    ranges
}

/// A request the broker refused as too large, cut in two halves to send
/// in its place; `None` for a single record, which no cut helps.
pub(crate) fn halves(range: Range<usize>) -> Option<[Range<usize>; 2]> {
    let middle = range.start + range.len() / 2;
    (range.len() > 1).then_some([range.start..middle, middle..range.end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_in_order_in_requests_under_the_limit() {
        assert_eq!(requests(&[4, 4, 4, 9, 1], 8), [0..2, 2..3, 3..4, 4..5]);
        let one = requests(&[1; 5], 100);
        assert_eq!((one.len(), one.first()), (1, Some(&(0..5))));
        assert!(requests(&[], 8).is_empty());
    }

    #[test]
    fn a_refused_request_is_cut_in_two_down_to_one_record() {
        assert_eq!(halves(4..9), Some([4..6, 6..9]));
        assert_eq!(halves(3..4), None);
    }
}
